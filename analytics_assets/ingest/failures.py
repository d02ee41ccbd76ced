"""Turning a failed sync into one clear Dagster failure: what to fix first, then the details.

Every error of the ingest step goes through ``sync_failure``: the description names the
resource, the URL, the status and what to do, with the API key masked (an API's error body may
echo it), and it decides whether Dagster's RetryPolicy may try again. Permanent errors (settings,
the key, client errors, answers that are not pages) fail at once; transient ones (outages,
timeouts, a busy warehouse) keep their retries. The caller raises the failure ``from None``: the
original exception's text would reach the event log unmasked.
"""

from __future__ import annotations

import traceback

import dagster as dg
from dlt.common.exceptions import TerminalException, TransientException
from dlt.extract.exceptions import ResourceExtractionError
from requests import ConnectionError, HTTPError, RequestException, Timeout, TooManyRedirects

from analytics_assets.api.auth import ApiAuthenticationError
from analytics_assets.api.errors import (
    ApiResponseError,
    ForeignOriginError,
    IncompleteRead,
    InvalidBody,
    PaginationLoopError,
    WaitTooLong,
    api_error_text,
)
from analytics_assets.api.http import MAX_REDIRECTS, RETRY_STATUSES
from analytics_assets.api.redact import NO_SECRETS, Redactor
from analytics_assets.exceptions import exception_chain
from analytics_assets.settings import API_KEY_VARIABLE, MissingApiKeyError, SettingsError
from analytics_assets.warehouse.lock import WarehouseInUseError, describe_lock_conflict

ADVICE = {
    401: f"check {API_KEY_VARIABLE} and ANALYTICS_API_KEY_HEADER (PersistIq expects x-api-key)",
    403: f"the key in {API_KEY_VARIABLE} lacks access to this endpoint",
    404: "check ANALYTICS_API_BASE_URL (it should end in /v1/)",
    429: "the API's rate limit was hit; lower ANALYTICS_API_REQUESTS_PER_MINUTE or retry later",
}
PERMANENT = (
    MissingApiKeyError,
    SettingsError,
    ApiAuthenticationError,
    ForeignOriginError,
    PaginationLoopError,
)
"""Errors that no retry can fix: Dagster does not retry them."""
TRANSIENT = (WaitTooLong, InvalidBody, IncompleteRead)
"""Errors a later attempt may not meet: Dagster's RetryPolicy retries them."""


def sync_failure(exc: BaseException, redact: Redactor = NO_SECRETS) -> dg.Failure:
    """A ``dg.Failure`` describing ``exc`` for people, the key masked everywhere in it."""
    chain = list(exception_chain(exc))
    resource = next(
        (e.pipe_name for e in chain if isinstance(e, ResourceExtractionError)), "the API"
    )
    description, metadata, retry = _describe(chain, resource, redact)
    return dg.Failure(
        description=redact(description),
        metadata={
            name: redact(value) if isinstance(value, str) else value
            for name, value in metadata.items()
        },
        allow_retries=retry,
    )


def _describe(
    chain: list[BaseException], resource: str, redact: Redactor
) -> tuple[str, dict[str, object], bool]:
    for error in chain:
        if isinstance(error, ApiAuthenticationError):
            return _auth_failure(error)
        if isinstance(error, PERMANENT):
            setting = isinstance(error, MissingApiKeyError | SettingsError)
            return f"{'' if setting else resource + ': '}{error}", {"resource": resource}, False
        if isinstance(error, WarehouseInUseError):
            return str(error), {}, True
        if isinstance(error, TRANSIENT):
            return f"{resource}: {error}", {"resource": resource}, True
        if isinstance(error, ApiResponseError):
            # A malformed answer is for a person to look at; broken bodies were retried already.
            return f"{resource}: {error}", {"resource": resource}, False
        if isinstance(error, TooManyRedirects):
            url = getattr(error.request, "url", None) or "the API"
            return (
                f"{resource}: GET {url} was redirected more than {MAX_REDIRECTS} times; check "
                "ANALYTICS_API_BASE_URL (a redirect loop does not end by retrying)",
                {"resource": resource, "url": url},
                False,
            )
        if isinstance(error, HTTPError) and error.response is not None:
            return _http_failure(error, resource, redact)
        if isinstance(error, Timeout | ConnectionError):
            return _network_failure(error, resource)
    conflict = describe_lock_conflict(chain[0])  # dlt's own opens of a DuckDB file held elsewhere
    if conflict is not None:
        return conflict, {}, True
    for error in chain:
        if isinstance(error, TerminalException) and not isinstance(error, TransientException):
            return f"{resource}: {_first_line(error)}", {"resource": resource}, False
    error = chain[-1]
    detail = "".join(traceback.format_exception_only(type(error), error)).strip()
    return (
        f"{resource}: the sync failed with an unexpected error: {detail}. Dagster retries it; "
        "if it persists, report it with the run's logs",
        {"resource": resource},
        True,
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _http_failure(
    error: HTTPError, resource: str, redact: Redactor
) -> tuple[str, dict[str, object], bool]:
    response = error.response
    status = response.status_code
    url = response.url
    api_says = api_error_text(response, redact)
    advice = ADVICE.get(status, "retry later" if status >= 500 else "check the request")
    description = (
        f"{resource}: GET {url} answered {status}"
        + (f" ({api_says})" if api_says else "")
        + f"; {advice}."
    )
    metadata = {"resource": resource, "url": url, "status": status}
    return description, metadata, status in RETRY_STATUSES


def _network_failure(error: RequestException, resource: str) -> tuple[str, dict[str, object], bool]:
    request = error.request
    url = getattr(request, "url", None) or "the API"
    method = getattr(request, "method", None) or "GET"
    kind = "timed out" if isinstance(error, Timeout) else "could not connect or was cut off"
    description = (
        f"{resource}: {method} {url} {kind} on every attempt ({type(error).__name__}: "
        f"{_first_line(error)}); check the network and ANALYTICS_API_BASE_URL. Dagster retries "
        "the sync later"
    )
    return description, {"resource": resource, "url": url}, True


def _auth_failure(error: ApiAuthenticationError) -> tuple[str, dict[str, object], bool]:
    """One failure naming every endpoint that refused the key (api/auth.py)."""
    advice = "; ".join(ADVICE[status] for status in sorted(error.statuses) if status in ADVICE)
    lines = [failure.describe() for failure in error.failures]
    metadata = {
        "resources": ", ".join(failure.resource for failure in error.failures),
        "statuses": ", ".join(str(failure.status) for failure in error.failures),
    }
    return "; ".join(lines) + f"; {advice}.", metadata, False
