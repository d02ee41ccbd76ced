"""Errors the API layer raises for answers that must not pass as data."""

from __future__ import annotations

from requests import Response


class ApiResponseError(RuntimeError):
    """A 2xx answer that is not a usable page: not JSON, an error envelope, no records key."""


class PaginationLoopError(RuntimeError):
    """Pagination would not end: a repeated next_page, or empty pages that claim has_more."""


def api_error_text(response: Response) -> str:
    """The API's own words from an error envelope (``error.reason: error.message``), or ''."""
    try:
        body = response.json()
    except ValueError:
        return ""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return ""
    return ": ".join(str(part) for part in (detail.get("reason"), detail.get("message")) if part)
