"""`make demo`: one offline sync against the sandbox into DuckDB, rows printed per table."""

from pathlib import Path

import pytest

from analytics_assets.local import demo
from analytics_assets_tests.conftest import query


def test_demo_syncs_the_sandbox_and_prints_rows_per_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The default file name: DuckDB then names its catalog `analytics`, like the models' schema.
    warehouse = tmp_path / "analytics.duckdb"
    # `make demo` reads the environment, as a user's shell sets it.
    monkeypatch.setenv("ANALYTICS_DUCKDB_PATH", str(warehouse))
    monkeypatch.setenv("ANALYTICS_DLT_DIR", str(tmp_path / "dlt"))

    assert demo() == 0

    out = capsys.readouterr().out
    assert "analytics_api_sync succeeded" in out
    for table, count in (("users", 25), ("leads", 2500), ("campaigns", 40)):
        assert query(warehouse, f"SELECT COUNT(*) FROM analytics_api.{table}") == [(count,)]
        assert f"analytics_api.{table:<10} {count:>8,}" in out
    models = "SELECT COUNT(*) FROM analytics_models.campaign_performance"
    assert query(warehouse, models) == [(40,)]
