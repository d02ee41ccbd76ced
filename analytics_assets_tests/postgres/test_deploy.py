"""deploy/dagster.yaml: the production instance (storage in PostgreSQL) runs the job."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
from dagster_postgres import PostgresRunStorage

from analytics_assets.sandbox import SandboxServer
from analytics_assets.settings import PROJECT_DIR
from analytics_assets_tests.conftest import run_sync, step_failure, use_api
from analytics_assets_tests.postgres.conftest import Query


def test_the_production_instance_stores_runs_in_postgres(
    postgres: Query, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = urlsplit(os.environ["DESTINATION__POSTGRES__CREDENTIALS"])
    monkeypatch.setenv("DAGSTER_PG_HOST", database.hostname or "")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(database.port))
    monkeypatch.setenv("DAGSTER_PG_DB", database.path.lstrip("/"))
    monkeypatch.setenv("DAGSTER_PG_USERNAME", database.username or "")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", database.password or "")
    shutil.copy(PROJECT_DIR / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    use_api(sandbox)

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = run_sync(instance)
        runs = instance.get_runs()
        assert isinstance(instance.run_storage, PostgresRunStorage)

    assert result.success, step_failure(result)
    assert [(run.run_id, run.status) for run in runs] == [
        (result.run_id, dg.DagsterRunStatus.SUCCESS)
    ]
    assert postgres("SELECT COUNT(*) FROM runs") == [(1,)]  # Dagster's own table, same server
    assert postgres("SELECT COUNT(*) FROM analytics_api.leads") == [(2500,)]
