"""Turning a failed sync into one clear Dagster failure: resource, URL, status, what to do."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dagster as dg
from dlt.extract.exceptions import ResourceExtractionError
from requests import HTTPError

from analytics_assets.api.auth import ApiAuthenticationError
from analytics_assets.api.errors import ApiResponseError, PaginationLoopError, api_error_text
from analytics_assets.exceptions import exception_chain
from analytics_assets.settings import API_KEY_VARIABLE, MissingApiKeyError
from analytics_assets.warehouse import WarehouseInUseError, describe_lock_conflict

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
ADVICE = {
    401: f"check {API_KEY_VARIABLE} and ANALYTICS_API_KEY_HEADER (PersistIq expects x-api-key)",
    403: f"the key in {API_KEY_VARIABLE} lacks access to this endpoint",
    404: "check ANALYTICS_API_BASE_URL (it should end in /v1/)",
    429: "the API's rate limit was hit; lower the request rate or retry later",
}


def redact_url(url: str, secret: str | None) -> str:
    """``url`` with any query value equal to ``secret`` replaced by ``***``."""
    if not secret:
        return url
    split = urlsplit(url)
    query = [(k, "***" if v == secret else v) for k, v in parse_qsl(split.query, True)]
    return urlunsplit(split._replace(query=urlencode(query)))


def sync_failure(exc: BaseException, api_key: str | None) -> dg.Failure | None:
    """A ``dg.Failure`` describing ``exc`` for people, or None if it is not a known kind.

    Client errors (4xx but 429) and configuration errors do not allow Dagster retries: retrying
    cannot fix a wrong key or URL.
    """
    chain = list(exception_chain(exc))
    resource = next(
        (e.pipe_name for e in chain if isinstance(e, ResourceExtractionError)), "the API"
    )
    for error in chain:
        if isinstance(error, WarehouseInUseError):  # transient: the retry policy may try again
            return dg.Failure(description=str(error), allow_retries=True)
        if isinstance(error, MissingApiKeyError):
            return dg.Failure(description=str(error), allow_retries=False)
        if isinstance(error, ApiAuthenticationError):
            return _auth_failure(error, api_key)
        if isinstance(error, PaginationLoopError):
            return dg.Failure(description=f"{resource}: {error}", allow_retries=False)
        if isinstance(error, ApiResponseError):
            # A malformed answer is for a person to look at; dlt already retried broken ones.
            return dg.Failure(description=f"{resource}: {error}", allow_retries=False)
        if isinstance(error, HTTPError) and error.response is not None:
            response = error.response
            status = response.status_code
            url = redact_url(response.url, api_key)
            api_says = api_error_text(response)
            advice = ADVICE.get(status, "retry later" if status >= 500 else "check the request")
            description = (
                f"{resource}: GET {url} answered {status}"
                + (f" ({api_says})" if api_says else "")
                + f"; {advice}."
            )
            return dg.Failure(
                description=description,
                metadata={"resource": resource, "url": url, "status": status},
                allow_retries=status in RETRYABLE_STATUSES,
            )
    conflict = describe_lock_conflict(exc)  # dlt's own opens of a DuckDB file held elsewhere
    if conflict is not None:
        return dg.Failure(description=conflict, allow_retries=True)
    return None


def _auth_failure(error: ApiAuthenticationError, api_key: str | None) -> dg.Failure:
    """One failure naming every endpoint that refused the key (api/auth.py)."""
    advice = "; ".join(ADVICE[status] for status in sorted(error.statuses) if status in ADVICE)
    lines = [
        replace(failure, url=redact_url(failure.url, api_key)).describe()
        for failure in error.failures
    ]
    return dg.Failure(
        description="; ".join(lines) + f"; {advice}.",
        metadata={
            "resources": ", ".join(failure.resource for failure in error.failures),
            "statuses": ", ".join(str(failure.status) for failure in error.failures),
        },
        allow_retries=False,
    )
