"""Permanent errors fail at once, before any request, naming what to fix; transient ones retry."""

from __future__ import annotations

import socket
from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.sandbox import SandboxServer
from analytics_assets_tests.conftest import configure, run_sync, step_failure, use_api


def _retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(1 for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")


def _first_line(result: dg.ExecuteInProcessResult) -> str:
    event = next(e for e in result.all_events if e.is_step_failure)
    data = event.step_failure_data.user_failure_data
    assert data is not None, "not a described dg.Failure"
    return data.description.splitlines()[0]


SETTINGS = {
    "attempts_not_a_number": (
        {"ANALYTICS_API_MAX_ATTEMPTS": "abc"},
        "ANALYTICS_API_MAX_ATTEMPTS must be a number, got 'abc'",
    ),
    "attempts_zero": (
        {"ANALYTICS_API_MAX_ATTEMPTS": "0"},
        "ANALYTICS_API_MAX_ATTEMPTS must be a whole number >= 1, got '0'",
    ),
    "timeout_zero": (
        {"ANALYTICS_API_TIMEOUT_S": "0"},
        "ANALYTICS_API_TIMEOUT_S must be more than 0 and at most 86400, got '0'",
    ),
    "base_url_without_scheme": (
        {"ANALYTICS_API_BASE_URL": "api.persistiq.com/v1/"},
        "ANALYTICS_API_BASE_URL must be an http(s) URL with a host, like "
        "https://api.persistiq.com/v1/, got 'api.persistiq.com/v1/'",
    ),
    "base_url_bad_port": (
        {"ANALYTICS_API_BASE_URL": "http://127.0.0.1:port/v1/"},
        "ANALYTICS_API_BASE_URL must be an http(s) URL with a host",
    ),
    "base_url_bad_ipv6": (
        {"ANALYTICS_API_BASE_URL": "http://[::1/v1/"},
        "ANALYTICS_API_BASE_URL must be an http(s) URL with a host",
    ),
    "base_url_with_a_space": (
        {"ANALYTICS_API_BASE_URL": "http://exa mple.com/v1/"},
        "ANALYTICS_API_BASE_URL must be an http(s) URL with a host",
    ),
    "base_url_with_a_newline": (
        {"ANALYTICS_API_BASE_URL": "http://127.0.0.1:9\n/v1/"},
        "ANALYTICS_API_BASE_URL must be an http(s) URL with a host",
    ),
    "timeout_beyond_a_day": (
        {"ANALYTICS_API_TIMEOUT_S": "1e10"},
        "ANALYTICS_API_TIMEOUT_S must be more than 0 and at most 86400, got '1e10'",
    ),
    "rate_below_one_a_minute": (
        {"ANALYTICS_API_REQUESTS_PER_MINUTE": "0.001"},
        "ANALYTICS_API_REQUESTS_PER_MINUTE must be at least 1 (or unset for no cap)",
    ),
    "unknown_destination": (
        {"ANALYTICS_DESTINATION": "nosuchwarehouse"},
        "the warehouse destination 'nosuchwarehouse' (ANALYTICS_DESTINATION) is not usable: "
        "Destination 'nosuchwarehouse'",
    ),
    "postgres_without_password": (
        {
            "ANALYTICS_DESTINATION": "postgres",
            "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://analytics@127.0.0.1:1/analytics",
        },
        "the warehouse destination 'postgres' (ANALYTICS_DESTINATION) is not usable: Missing 1 "
        "field(s) in configuration `PostgresClientConfiguration`: `credentials`",
    ),
}


@pytest.mark.parametrize("case", SETTINGS)
def test_a_bad_setting_fails_at_once_before_any_request(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    use_api(sandbox)
    environ, first_line = SETTINGS[case]
    credentials = "DESTINATION__POSTGRES__CREDENTIALS"  # dlt's own configuration: a variable
    if credentials in environ:
        monkeypatch.setenv(credentials, environ[credentials])
    configure(**{name: value for name, value in environ.items() if name != credentials})

    result = run_sync()

    assert not result.success
    assert _retries(result) == 0
    assert sandbox.request_log == []
    assert _first_line(result).startswith(first_line), step_failure(result)


@pytest.mark.parametrize("what", ["directory", "other_file"])
def test_a_warehouse_path_that_is_no_duckdb_file_fails_at_once(
    sandbox: SandboxServer, tmp_path: Path, what: str
) -> None:
    use_api(sandbox)
    path = tmp_path / "warehouse"
    if what == "directory":
        path.mkdir()
    else:
        path.write_text("id,name\n1,a\n")
    configure(ANALYTICS_DUCKDB_PATH=str(path))

    result = run_sync()

    assert not result.success
    assert _retries(result) == 0
    assert sandbox.request_log == []
    assert _first_line(result).startswith(
        f"ANALYTICS_DUCKDB_PATH: {path} cannot be opened as a DuckDB database"
    )


@pytest.mark.parametrize("variable", ["ANALYTICS_DUCKDB_PATH", "ANALYTICS_DLT_DIR"])
def test_an_unwritable_directory_fails_at_once_naming_the_variable(
    sandbox: SandboxServer, tmp_path: Path, variable: str
) -> None:
    use_api(sandbox)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # as root, permissions would not stop a write
    configure(**{variable: str(blocker / "below" / "analytics.duckdb")})

    result = run_sync()

    assert not result.success
    assert _retries(result) == 0
    assert sandbox.request_log == []
    line = _first_line(result)
    assert line.startswith(f"{variable}: cannot write in {blocker / 'below'}"), line
    assert line.endswith("point it at a writable directory")


def test_an_unreachable_api_is_retried_and_named_with_its_url() -> None:
    with socket.socket() as closed:  # a loopback port that nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    configure(ANALYTICS_API_BASE_URL=f"http://127.0.0.1:{port}/v1/")
    configure(ANALYTICS_API_KEY="k")
    configure(ANALYTICS_API_BACKOFF_FACTOR="0.01")
    configure(ANALYTICS_API_MAX_CONCURRENCY="1")  # users is asked first

    result = run_sync()

    assert not result.success
    assert _retries(result) == 2  # transient: Dagster's RetryPolicy tries again
    line = _first_line(result)
    assert line.startswith(
        f"users: GET http://127.0.0.1:{port}/v1/users could not connect or was cut off on "
        "every attempt (ConnectionError: "
    ), line
    assert line.endswith(
        "check the network and ANALYTICS_API_BASE_URL. Dagster retries the sync later"
    )
