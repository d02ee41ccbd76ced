"""A DuckDB file held by another process: a clear error naming it, nothing fetched or lost."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics_assets.sandbox import SandboxServer
from analytics_assets.settings import load_settings
from analytics_assets.warehouse import WarehouseInUseError, open_warehouse
from analytics_assets_tests.conftest import query, run_sync, step_failure, use_api

HOLD = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
    "sys.stdin.read()"
)


@pytest.fixture
def held(warehouse: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the warehouse file open for writing, until the test ends."""
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
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0


def test_a_sync_against_a_held_file_names_it_and_its_holder_then_recovers(
    sandbox: SandboxServer,
    warehouse: Path,
    held: subprocess.Popen[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_api(monkeypatch, sandbox)

    blocked = run_sync()

    assert not blocked.success
    message = step_failure(blocked)
    assert f"the DuckDB file {warehouse} is open in another process" in message
    assert f"PID {held.pid})" in message
    assert sandbox.request_log == []  # stopped before asking the API for anything

    release(held)
    recovered = run_sync()

    assert recovered.success, step_failure(recovered)
    assert query(warehouse, "SELECT COUNT(*) FROM analytics_api.users") == [(25,)]


def test_checks_and_models_name_a_held_file_too(
    warehouse: Path, held: subprocess.Popen[str]
) -> None:
    with pytest.raises(WarehouseInUseError, match=rf"PID {held.pid}\)") as raised:
        with open_warehouse(load_settings()):
            pass

    assert str(warehouse) in str(raised.value)
