"""sync_failure: one Failure per error, its first line saying what to fix, the key masked."""

from __future__ import annotations

import io

import pytest
import requests

from analytics_assets.api.errors import (
    ApiResponseError,
    ForeignOriginError,
    InvalidBody,
    PaginationLoopError,
    WaitTooLong,
)
from analytics_assets.api.redact import Redactor
from analytics_assets.ingest.failures import sync_failure
from analytics_assets.settings import MissingApiKeyError, SettingsError
from analytics_assets.warehouse.lock import WarehouseInUseError

KEY = "sk-live-0123456789"


def _http_error(status: int, body: bytes = b"") -> requests.HTTPError:
    response = requests.Response()
    response.status_code, response.url = status, "http://127.0.0.1:1/v1/leads?page=2"
    response.raw = io.BytesIO(body)
    return requests.HTTPError(f"{status} error", response=response)


@pytest.mark.parametrize(
    ("error", "first_line", "retry"),
    [
        (SettingsError("ANALYTICS_API_TIMEOUT_S must be ..."), "ANALYTICS_API_TIMEOUT_S", False),
        (MissingApiKeyError("No API key: set ANALYTICS_API_KEY"), "No API key", False),
        (ForeignOriginError("refused GET http://x"), "the API: refused GET http://x", False),
        (PaginationLoopError("GET u sent next_page"), "the API: GET u sent next_page", False),
        (ApiResponseError("GET u answered 200 with status"), "the API: GET u answered", False),
        (InvalidBody("GET u answered 200 with a body"), "the API: GET u answered 200", True),
        (WaitTooLong("GET u answered 429 and asked"), "the API: GET u answered 429", True),
        (WarehouseInUseError("the DuckDB file x is open"), "the DuckDB file x is open", True),
        (_http_error(503), "the API: GET http://127.0.0.1:1/v1/leads?page=2 answered 503", True),
        (_http_error(404), "the API: GET http://127.0.0.1:1/v1/leads?page=2 answered 404", False),
        (ZeroDivisionError("boom"), "the API: the sync failed with an unexpected error", True),
        (
            requests.TooManyRedirects("x", request=requests.Request("GET", "http://h/v1/a")),
            "the API: GET http://h/v1/a was redirected more than 5 times",
            False,
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_each_kind_says_what_to_fix_first_and_retries_only_what_may_pass(
    error: Exception, first_line: str, retry: bool
) -> None:
    failure = sync_failure(error)

    assert failure.description is not None and failure.description.startswith(first_line)
    assert failure.allow_retries is retry


def test_the_key_is_masked_in_the_description_and_the_metadata() -> None:
    body = (
        b'{"status":"error","error":{"reason":"bad_params","message":"key ' + KEY.encode() + b'"}}'
    )

    failure = sync_failure(_http_error(400, body), Redactor([KEY]))

    assert failure.description.startswith(
        "the API: GET http://127.0.0.1:1/v1/leads?page=2 answered 400 (bad_params: key ***)"
    )
    assert KEY not in failure.description + str(failure.metadata)


def test_the_resource_comes_from_dlts_extraction_error() -> None:
    from dlt.extract.exceptions import ResourceExtractionError

    wrapped = ResourceExtractionError("leads", "gen", "extract", "failed")
    wrapped.__cause__ = ApiResponseError("GET u answered without the 'leads' key")

    assert sync_failure(wrapped).description.startswith("leads: GET u answered without")
