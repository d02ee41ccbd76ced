"""Errors the API layer raises for answers that must not pass as data, or must not be waited for."""

from __future__ import annotations

from collections.abc import Callable

from requests import Response, Timeout


class ApiResponseError(RuntimeError):
    """A 2xx answer that is not a usable page: an error envelope, no records, a contradiction."""


class InvalidBody(ApiResponseError):
    """A 2xx answer whose body is not JSON (an HTML proxy page, a cut body): retried, transient."""


class IncompleteRead(RuntimeError):
    """A read of days that ended without being known complete: retried, transient."""


class PaginationLoopError(RuntimeError):
    """Pagination would not end: a repeated next_page, or empty pages that claim has_more."""


class ForeignOriginError(RuntimeError):
    """A request to another origin than the API's (a next_page or a redirect pointed there)."""


class WaitTooLong(RuntimeError):
    """The API asked for a wait longer than the configured cap (ANALYTICS_API_MAX_WAIT_S)."""


class ResponseDeadlineExceeded(Timeout):
    """The whole response (connect, headers, body) did not arrive within the deadline."""


def api_error_text(response: Response, redact: Callable[[str], str] = str) -> str:
    """The API's own words from an error envelope (``error.reason: error.message``), redacted."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return redact(envelope_error_text(body)) if isinstance(body, dict) else ""


def envelope_error_text(envelope: dict) -> str:
    """``reason: message`` of an envelope's ``error`` object or ``errors`` list, or ''."""
    detail = envelope.get("error")
    if isinstance(detail, dict):
        parts = (detail.get("reason"), detail.get("message"))
        return ": ".join(str(part) for part in parts if part)
    if isinstance(detail, str):
        return detail
    errors = envelope.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(
            envelope_error_text({"error": item}) or str(item) for item in errors if item
        )
    return ""
