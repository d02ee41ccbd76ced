"""A DuckDB file held by another process: steps wait for it, then fail clearly, losing nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics_assets.sandbox import SandboxServer
from analytics_assets.warehouse.lock import WarehouseInUseError, wait_for_duckdb_file
from analytics_assets.warehouse.sql import open_warehouse
from analytics_assets_tests.conftest import (
    configure,
    query,
    run_sync,
    settings_for_test,
    step_failure,
    use_api,
)

HOLD = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
    "sys.stdin.read()"
)


@pytest.fixture
def held(warehouse: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the warehouse file open for writing, until released."""
    configure(ANALYTICS_DUCKDB_LOCK_WAIT_S="0.3")
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    yield holder
    if holder.poll() is None:
        release(holder)


def release(holder: subprocess.Popen[str]) -> None:
    """Let the holder close the file and exit."""
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0


def test_a_sync_against_a_held_file_names_it_and_its_holder_then_recovers(
    sandbox: SandboxServer,
    warehouse: Path,
    held: subprocess.Popen[str],
) -> None:
    use_api(sandbox)

    blocked = run_sync()

    assert not blocked.success
    message = step_failure(blocked)
    assert f"the DuckDB file {warehouse} is open in another process" in message
    assert f"PID {held.pid})" in message
    assert "waited 0.3 s; ANALYTICS_DUCKDB_LOCK_WAIT_S" in message
    assert sandbox.request_log == []  # stopped before asking the API for anything

    release(held)
    recovered = run_sync()

    assert recovered.success, step_failure(recovered)
    assert query(warehouse, "SELECT COUNT(*) FROM analytics_api.users") == [(25,)]


def test_checks_and_models_name_a_held_file_too(
    warehouse: Path, held: subprocess.Popen[str]
) -> None:
    with pytest.raises(WarehouseInUseError, match=rf"PID {held.pid}\)") as raised:
        with open_warehouse(settings_for_test()):
            pass

    assert str(warehouse) in str(raised.value)


def test_a_step_waits_for_the_file_to_be_let_go(
    warehouse: Path, held: subprocess.Popen[str]
) -> None:
    waits: list[float] = []
    lines: list[str] = []

    def sleep(seconds: float) -> None:  # the holder lets go during the first wait
        waits.append(seconds)
        if held.poll() is None:
            release(held)

    wait_for_duckdb_file(warehouse, timeout_s=60, sleep=sleep, log=lines.append)

    assert waits == [0.1]
    assert len(lines) == 1  # the wait is logged once, with its reason and bound
    assert lines[0].startswith("waiting up to 60 s (ANALYTICS_DUCKDB_LOCK_WAIT_S): the DuckDB")
    assert f"PID {held.pid}" in lines[0]
    assert query(warehouse, "SELECT 42") == [(42,)]


def test_a_missing_file_is_free(tmp_path: Path) -> None:
    wait_for_duckdb_file(tmp_path / "none.duckdb", timeout_s=0, sleep=pytest.fail)

    assert not (tmp_path / "none.duckdb").exists()
