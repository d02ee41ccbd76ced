"""A read not known complete never counts as complete, and never moves the leads cursor.

Every test here runs incremental syncs with no overlap (``ANALYTICS_LEADS_OVERLAP_S=0``), so a
cursor that moved past a broken read would lose the changes made before it for good.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.sandbox import (
    HasMoreWithoutNextPage,
    RelativeNextPage,
    RepeatedPage,
    SandboxServer,
)
from analytics_assets.schema import LEADS, SYNC_TABLES
from analytics_assets_tests.conftest import (
    Serve,
    configure,
    query,
    run_sync,
    step_failure,
)
from analytics_assets_tests.expected import expected_rows, select_declared

CHANGED = 150  # two pages of changed leads in an incremental read


@pytest.fixture
def server(serve: Serve) -> SandboxServer:
    configure(ANALYTICS_LEADS_OVERLAP_S="0")
    return serve(leads=1000)


def _failed_checks(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        e.asset_check_key.to_user_string()
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    }


def _leads_metadata(result: dg.ExecuteInProcessResult) -> dict:
    event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == "leads"
    )
    return event.event_specific_data.materialization.metadata


def _every_change_present_and_every_check_passing(server: SandboxServer, warehouse: Path) -> None:
    clean = run_sync()
    assert clean.success, step_failure(clean)
    assert _failed_checks(clean) == set()
    for table in SYNC_TABLES:
        assert set(query(warehouse, select_declared(table))) == expected_rows(server, table)


@pytest.mark.parametrize("next_page", [None, ""], ids=["null", "empty"])
def test_has_more_without_a_next_page_fails_and_the_cursor_stays(
    server: SandboxServer, warehouse: Path, next_page: str | None
) -> None:
    assert run_sync().success
    before = set(query(warehouse, select_declared(LEADS)))
    server.change_leads(CHANGED)
    server.inject("leads", HasMoreWithoutNextPage(next_page), page=1)

    result = run_sync()

    assert not result.success
    assert f"answered has_more true but next_page {next_page!r}" in step_failure(result)
    assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)
    assert set(query(warehouse, select_declared(LEADS))) == before  # nothing partial loaded
    _every_change_present_and_every_check_passing(server, warehouse)


def test_a_repeated_page_fails_a_blocking_check_and_the_cursor_stays(
    server: SandboxServer, warehouse: Path
) -> None:
    assert run_sync().success
    server.change_leads(CHANGED)
    server.inject("leads", RepeatedPage(), page=2)  # page 1's records again: 50 never served

    result = run_sync()

    assert result.is_node_success("analytics_api_raw")
    assert _failed_checks(result) == {"analytics_api/leads:primary_key"}
    metadata = _leads_metadata(result)
    assert metadata["read_complete"].value is False
    assert "served more than once in one read (pages 1, 2 of the read" in (
        metadata["incomplete_reasons"].value
    )
    assert set(query(warehouse, select_declared(LEADS))) != expected_rows(server, LEADS)
    _every_change_present_and_every_check_passing(server, warehouse)


def test_a_clean_sync_after_a_broken_one_passes_primary_key_even_loading_no_leads(
    server: SandboxServer, warehouse: Path
) -> None:
    assert run_sync().success
    server.change_leads(CHANGED)
    server.inject("leads", RepeatedPage(), page=2)
    assert _failed_checks(run_sync()) == {"analytics_api/leads:primary_key"}
    assert run_sync().success  # re-reads the window: every change
    server.clear_log()

    quiet = run_sync()  # nothing changed since: no lead loads, dlt's staging keeps old rows

    assert quiet.success, step_failure(quiet)
    assert _failed_checks(quiet) == set()
    lead_requests = [e for e in server.request_log if e.resource == "leads"]
    assert len(lead_requests) == 1 and "updated_after" in lead_requests[0].query


def test_a_relative_next_page_is_followed(server: SandboxServer, warehouse: Path) -> None:
    server.inject("leads", RelativeNextPage(), times=100)

    result = run_sync()

    assert result.success, step_failure(result)
    pages = [e.page for e in server.request_log if e.resource == "leads"]
    assert pages == list(range(1, 11))
    assert set(query(warehouse, select_declared(LEADS))) == expected_rows(server, LEADS)
