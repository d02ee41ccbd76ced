"""Pagination for the sandbox: page arithmetic, opaque cursors and rendering the JSON envelope."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

API_PREFIX = "/v1/"  # every resource is served at API_PREFIX + its path (schema.Table.path)
_TOKEN = re.compile(r"(?P<resource>[a-z_]+):(?P<page>[1-9][0-9]{0,8})(?:\?(?P<query>.*))?", re.S)


def page_count(rows: int, page_size: int) -> int:
    """Pages needed for ``rows`` rows; an empty resource still has one (empty) page."""
    return max(1, -(-rows // page_size))


def parse_page(raw: str) -> int:
    """A 1-based page number from a query value; ValueError if it is not a positive integer."""
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
        raise ValueError(f"page must be a positive integer, got {raw!r}")
    return int(raw)


def encode_token(resource: str, page: int, filters: Mapping[str, str] | None = None) -> str:
    """An opaque cursor for ``page`` of ``resource`` (urlsafe base64, no padding).

    ``filters`` (query parameters such as ``start_at``) travel inside the cursor, so a client
    that sends back only the cursor still reads the filtered pages.
    """
    text = f"{resource}:{page}" + (f"?{urlencode(filters)}" if filters else "")
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(resource: str, token: str) -> tuple[int, dict[str, str]]:
    """The page a cursor points at and the filters it carries; ValueError if it is not a cursor
    of ``resource``."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    match = _TOKEN.fullmatch(text)
    if match is None or match["resource"] != resource:
        raise ValueError(f"next_page is not a valid {resource} cursor: {token!r}")
    return int(match["page"]), dict(parse_qsl(match["query"] or "", keep_blank_values=True))


def render(
    resource: str, rows: list[dict[str, Any]], has_more: bool, next_page: str | None, bare: bool
) -> bytes:
    """The success envelope as compact JSON bytes.

    Args:
        resource: The data key, e.g. ``leads``.
        rows: The records of this page.
        has_more: Whether a later page exists.
        next_page: The next page's URL or cursor, None on the last page.
        bare: Omit ``has_more`` and ``next_page``, as the real API does for a single page of users.
    """
    envelope: dict[str, Any] = {"status": "success", "errors": []}
    if not bare:
        envelope["has_more"] = has_more
        envelope["next_page"] = next_page
    envelope[resource] = rows
    return json.dumps(envelope, separators=(",", ":")).encode()


def render_error(reason: str, message: str) -> bytes:
    """The API's error envelope: ``{"status": "error", "error": {"reason", "message"}}``."""
    body = {"status": "error", "error": {"reason": reason, "message": message}}
    return json.dumps(body, separators=(",", ":")).encode()
