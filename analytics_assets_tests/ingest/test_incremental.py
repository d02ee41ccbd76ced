"""Incremental leads: updated_after from the last successful sync, kept in dlt state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analytics_assets.sandbox import SandboxServer
from analytics_assets.schema import LEADS
from analytics_assets_tests.conftest import Serve, query, run_sync, step_failure
from analytics_assets_tests.expected import expected_rows, select_declared
from analytics_assets_tests.ingest.test_sync import raw_materializations

LEADS_COUNT = 1000  # 10 pages


def _lead_requests(server: SandboxServer) -> list[dict[str, str]]:
    return [entry.query for entry in server.request_log if entry.resource == "leads"]


@pytest.fixture
def server(serve: Serve) -> SandboxServer:
    return serve(leads=LEADS_COUNT)


def test_the_second_sync_reads_only_changed_leads(server: SandboxServer, warehouse: Path) -> None:
    first = run_sync()
    assert first.success, step_failure(first)
    assert len(_lead_requests(server)) == 10
    assert all("updated_after" not in params for params in _lead_requests(server))
    changed = server.change_leads(30)
    server.clear_log()

    second = run_sync()

    assert second.success, step_failure(second)
    requests = _lead_requests(server)
    assert 1 <= len(requests) <= 2
    assert all("updated_after" in params for params in requests)
    rows = query(warehouse, select_declared(LEADS))
    assert len(rows) == LEADS_COUNT
    assert set(rows) == expected_rows(server, LEADS)
    loaded = raw_materializations(second)
    rows_loaded = {
        e.asset_key.path[-1]: e.event_specific_data.materialization.metadata["rows_loaded"].value
        for e in loaded
    }
    assert rows_loaded["leads"] == len(changed)


def test_the_cursor_survives_a_lost_working_directory(
    server: SandboxServer, warehouse: Path
) -> None:
    assert run_sync().success
    shutil.rmtree(warehouse.parent / "dlt")
    server.change_leads(5)
    server.clear_log()

    assert run_sync().success

    requests = _lead_requests(server)
    assert len(requests) == 1 and "updated_after" in requests[0]
    assert set(query(warehouse, select_declared(LEADS))) == expected_rows(server, LEADS)


def test_a_full_refresh_reads_every_lead_again(server: SandboxServer) -> None:
    assert run_sync().success
    server.change_leads(5)
    server.clear_log()
    result = run_sync(run_config={"ops": {"analytics_api_raw": {"config": {"full_refresh": True}}}})

    assert result.success, step_failure(result)
    requests = _lead_requests(server)
    assert len(requests) == 10
    assert all("updated_after" not in params for params in requests)
