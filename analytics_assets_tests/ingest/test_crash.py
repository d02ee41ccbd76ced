"""kill -9 during extract and during load: the next run completes and the tables are exact."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from analytics_assets.sandbox import Delay, SandboxServer
from analytics_assets.schema import SYNC_TABLES
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
