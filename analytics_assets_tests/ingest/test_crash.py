"""kill -9 during extract and during load: the next run completes and the tables are exact."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from analytics_assets.automation import FULL_REFRESH_CONFIG
from analytics_assets.sandbox import Delay, SandboxServer
from analytics_assets.schema import DELETED_AT, SYNC_TABLES
from analytics_assets.settings import PROJECT_DIR
from analytics_assets_tests.conftest import (
    Serve,
    process_env,
    query,
    run_sync,
    step_failure,
)
from analytics_assets_tests.expected import expected_rows, select_declared

TIMEOUT_S = 120


@pytest.fixture
def server(serve: Serve) -> SandboxServer:
    return serve(leads=800)


def _start_child(extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "analytics_assets_tests.crash_driver"],
        cwd=PROJECT_DIR,
        env=process_env(**extra_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when(child: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not ready():
        assert child.poll() is None, f"the child ended early with {child.returncode}"
        assert time.monotonic() < deadline, "the child never reached the crash point"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=TIMEOUT_S) == -signal.SIGKILL


def _assert_exact(server: SandboxServer, warehouse: Path) -> None:
    for table in SYNC_TABLES:
        rows = query(warehouse, select_declared(table))
        assert len(rows) == len(server.records(table.name))
        assert set(rows) == expected_rows(server, table)


def test_a_kill_during_extract_loses_nothing(server: SandboxServer, warehouse: Path) -> None:
    assert run_sync().success
    server.change_leads(250)  # three pages of changes to read
    server.inject("leads", Delay(60), page=2)
    child = _start_child({})

    _kill_when(child, lambda: any(e.page == 2 for e in server.request_log if e.resource == "leads"))
    server.clear_faults()
    server.change_leads(5)
    result = run_sync()

    assert result.success, step_failure(result)
    _assert_exact(server, warehouse)


def test_a_kill_during_load_loses_nothing(
    server: SandboxServer, warehouse: Path, tmp_path: Path
) -> None:
    assert run_sync().success
    server.change_leads(40)
    marker = tmp_path / "loading"
    child = _start_child({"CRASH_PAUSE": "load", "CRASH_MARKER": str(marker)})

    _kill_when(child, marker.exists)
    server.change_leads(7)
    result = run_sync()

    assert result.success, step_failure(result)
    _assert_exact(server, warehouse)


def _raw_rows(warehouse: Path) -> dict[str, set[tuple]]:
    """Every raw table's rows: their columns but dlt's own (a merge stamps its load id)."""
    return {
        table.name: set(
            query(
                warehouse,
                f"SELECT * EXCLUDE (_dlt_id, _dlt_load_id) FROM analytics_api.{table.name}",
            )
        )
        for table in SYNC_TABLES
    }


def _deleted_lead_and_tag(server: SandboxServer) -> tuple[str, str]:
    lead, tag = server.records("leads")[3]["id"], server.records("tags")[2]["id"]
    server.delete("leads", lead)
    server.delete("tags", tag)
    return lead, tag


def _flagged(warehouse: Path, table: str) -> set[str]:
    return {
        row[0]
        for row in query(
            warehouse, f"SELECT id FROM analytics_api.{table} WHERE {DELETED_AT} IS NOT NULL"
        )
    }


@pytest.mark.parametrize("pause", ["load", "flagging"])
def test_a_full_refresh_killed_mid_way_leaves_the_previous_rows_and_the_next_completes(
    server: SandboxServer, warehouse: Path, tmp_path: Path, pause: str
) -> None:
    """Killed with the new rows merged but the load not recorded, or in the middle of flagging
    deleted rows: every row is as before, none flagged; the next full refresh flags them."""
    assert run_sync().success
    before = _raw_rows(warehouse)
    models = query(warehouse, "SELECT * FROM analytics_models.owner_pipeline ORDER BY user_id")
    lead, tag = _deleted_lead_and_tag(server)
    marker = tmp_path / "paused"
    child = _start_child(
        {"CRASH_PAUSE": pause, "CRASH_MARKER": str(marker), "CRASH_JOB": "full_refresh"}
    )

    _kill_when(child, marker.exists)

    if pause == "flagging":
        assert "UPDATE" in marker.read_text()  # it was killed inside the flagging transaction
    assert _raw_rows(warehouse) == before
    assert (
        query(warehouse, "SELECT * FROM analytics_models.owner_pipeline ORDER BY user_id") == models
    )
    result = run_sync(run_config=FULL_REFRESH_CONFIG)
    assert result.success, step_failure(result)
    assert (_flagged(warehouse, "leads"), _flagged(warehouse, "tags")) == ({lead}, {tag})
    for table in SYNC_TABLES:
        rows = query(warehouse, select_declared(table) + f" WHERE {DELETED_AT} IS NULL")
        assert set(rows) == expected_rows(server, table)
