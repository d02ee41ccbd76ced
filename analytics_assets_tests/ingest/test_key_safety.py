"""The key goes only to the API's origin, and what the API says never carries it further."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pytest

from analytics_assets.sandbox import (
    ErrorEnvelope,
    EscapeSlashes,
    ForeignNextPage,
    PatchRecord,
    Redirect,
    SandboxConfig,
    SandboxServer,
    Status,
)
from analytics_assets.sandbox.pages import render_error
from analytics_assets.schema import LEADS
from analytics_assets_tests.conftest import (
    TEST_KEY,
    Serve,
    configure,
    query,
    run_sync,
    step_failure,
    use_api,
)
from analytics_assets_tests.expected import expected_rows, select_declared


@pytest.fixture
def server(serve: Serve) -> SandboxServer:
    return serve(leads=300)


@pytest.fixture
def foreign() -> Iterator[SandboxServer]:
    """Another host:port that would gladly take the key (it is configured with the same one)."""
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=300)) as other:
        yield other


def _origin(server: SandboxServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def _retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(1 for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")


def test_a_next_page_on_another_origin_is_refused_before_the_key_leaves(
    server: SandboxServer, foreign: SandboxServer, warehouse: Path
) -> None:
    assert run_sync().success
    before = set(query(warehouse, select_declared(LEADS)))
    server.change_leads(150)  # an incremental read of two pages
    server.inject("leads", ForeignNextPage(_origin(foreign)), page=1)

    result = run_sync()

    assert not result.success
    assert foreign.request_log == []  # never contacted, so never sent the key
    message = step_failure(result)
    assert f"leads: refused GET {_origin(foreign)}/v1/leads?" in message
    assert (
        f"not the API's origin http://127.0.0.1:{server.port} (ANALYTICS_API_BASE_URL), and "
        "the API key goes nowhere else"
    ) in message
    assert _retries(result) == 0  # permanent: no retry can make that origin the API's
    assert set(query(warehouse, select_declared(LEADS))) == before


def test_a_redirect_to_another_origin_is_refused_before_the_key_leaves(
    server: SandboxServer, foreign: SandboxServer
) -> None:
    server.inject("campaigns", Redirect(f"{foreign.base_url}campaigns"), page=1)

    result = run_sync()

    assert not result.success
    assert foreign.request_log == []
    assert f"campaigns: refused GET {foreign.base_url}campaigns: not the API's origin" in (
        step_failure(result)
    )


def test_a_redirect_within_the_api_is_followed(server: SandboxServer, warehouse: Path) -> None:
    server.inject("leads", Redirect(f"{server.base_url}leads?page=2"), page=2)

    result = run_sync()

    assert result.success, step_failure(result)
    assert [(e.page, e.status) for e in server.request_log if e.resource == "leads"] == [
        (1, 200),
        (2, 302),
        (2, 200),
        (3, 200),
    ]
    assert set(query(warehouse, select_declared(LEADS))) == expected_rows(server, LEADS)


ECHOES = {
    "400": ("leads", Status(400, body=render_error("bad_params", f"bad key {TEST_KEY}"))),
    "401": ("users", Status(401, body=render_error("unauthorized", f"no such key {TEST_KEY}"))),
    "503": (
        "campaigns",
        Status(503, body=render_error("api_error", f"key={quote(TEST_KEY)} overloaded")),
    ),
}


@pytest.mark.parametrize("echo", ECHOES)
def test_an_api_error_echoing_the_key_is_masked_everywhere(
    server: SandboxServer,
    echo: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    configure(ANALYTICS_API_BACKOFF_FACTOR="0.01")
    caplog.set_level(logging.DEBUG)
    resource, fault = ECHOES[echo]
    server.inject(resource, fault, page=1, times=9)  # every attempt of every step retry
    instance = dg.DagsterInstance.ephemeral()

    result = run_sync(instance)

    assert not result.success
    message = step_failure(result)
    assert f"{resource}: GET {server.base_url}{resource} answered {echo}" in message
    assert "***" in message  # the API's words are there, the key is not
    assert TEST_KEY not in message and quote(TEST_KEY) not in message
    logged = [repr(entry) for entry in instance.all_logs(result.run_id)]
    assert [line for line in logged if TEST_KEY in line or quote(TEST_KEY) in line] == []
    assert [r for r in caplog.records if TEST_KEY in r.getMessage()] == []
    out, err = capfd.readouterr()
    assert TEST_KEY not in out + err


def test_an_error_envelope_in_a_200_names_the_apis_words(server: SandboxServer) -> None:
    server.inject("leads", ErrorEnvelope(), page=1)

    result = run_sync()

    assert not result.success
    assert (
        f"leads: GET {server.base_url}leads answered 200 with status 'error' "
        "(An error occurred while listing leads.)"
    ) in step_failure(result)


SLASHED_KEY = "sk/live+Ab12/Cd34-test"
"""A key with slashes: PHP's json_encode writes them ``\\/``, so the body never holds it as sent."""


@pytest.mark.parametrize(
    ("resource", "field"), [("leads", "email"), ("campaign_leads", "mailbox_id")]
)
def test_a_record_holding_the_key_json_escaped_is_set_aside(
    warehouse: Path, resource: str, field: str
) -> None:
    config = SandboxConfig(api_key=SLASHED_KEY, leads=300, campaigns=6)
    with SandboxServer(config) as server:
        use_api(server, key=SLASHED_KEY)
        parent = None
        if resource == "campaign_leads":
            parent = next(
                c["id"] for c in server.records("campaigns") if server.records(resource, c["id"])
            )
        patch = PatchRecord(1, (field,), SLASHED_KEY)
        server.inject(resource, EscapeSlashes(patch), page=1, parent=parent)

        result = run_sync()

    assert result.is_node_success("analytics_api_raw"), step_failure(result)
    rejected = query(
        warehouse, "SELECT resource, page, position, reason FROM analytics_api.rejected_records"
    )
    assert rejected == [
        (
            resource,
            1,
            1,
            "it holds the API key (masked here); the warehouse never stores the key",
        )
    ]
    assert _tables_holding(warehouse, SLASHED_KEY) == []


def _tables_holding(warehouse: Path, needle: str) -> list[str]:
    """Every table of the warehouse whose rows, as text, hold ``needle``."""
    tables = query(
        warehouse,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE'",
    )
    return [
        f"{schema}.{table}"
        for schema, table in tables
        if needle in str(query(warehouse, f'SELECT * FROM "{schema}"."{table}"'))
    ]
