"""The API key never appears in logs (also at DEBUG), Dagster's event log, dlt's files or DuckDB."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.sandbox import SandboxServer, Status
from analytics_assets_tests.conftest import TEST_KEY, run_sync, use_api


def test_the_key_is_nowhere_even_at_debug_and_on_errors(
    sandbox: SandboxServer,
    warehouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    use_api(sandbox)
    instance = dg.DagsterInstance.ephemeral()
    sandbox.inject("leads", Status(503), page=2)  # a retry logs the failed request too

    result = run_sync(instance)

    assert result.success
    assert sum(1 for e in sandbox.request_log if e.status == 503) == 1
    records = [record.getMessage() for record in caplog.records]
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert any("leads" in message for message in records)
    assert [message for message in records if TEST_KEY in message] == []
    out, err = capfd.readouterr()
    assert TEST_KEY not in out + err
    assert [e for e in instance.all_logs(result.run_id) if TEST_KEY in repr(e)] == []
    files = [path for path in warehouse.parent.rglob("*") if path.is_file()]
    assert warehouse in files
    assert [path for path in files if TEST_KEY.encode() in path.read_bytes()] == []
    # dlt's working files (state, schemas, load packages) lived in the run's own directory,
    # removed with the run; what dlt keeps (state, schema) is in the warehouse checked above.
    assert list((warehouse.parent / "dlt" / "runs").iterdir()) == []
