"""The code location: what it defines is derived from schema.py, and it loads with no secrets."""

import os
import subprocess
import sys

import dagster as dg

from analytics_assets.checks.assets import CHECK_SPECS
from analytics_assets.definitions import defs
from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.schema import TABLES
from analytics_assets.settings import PROJECT_DIR

RAW_KEYS = {dg.AssetKey(["analytics_api", table.name]) for table in TABLES}
MODEL_KEYS = {
    dg.AssetKey(["analytics", "campaign_performance"]),
    dg.AssetKey(["analytics", "owner_pipeline"]),
}


def test_assets_and_jobs_are_the_declared_ones() -> None:
    assert set(defs.resolve_all_asset_keys()) == RAW_KEYS | MODEL_KEYS
    job = defs.resolve_job_def("analytics_api_sync")
    assert set(job.asset_layer.executable_asset_keys) == RAW_KEYS | MODEL_KEYS
    assert {key.to_user_string() for key in job.asset_layer.asset_graph.asset_check_keys} == {
        spec.key.to_user_string() for spec in CHECK_SPECS
    }
    assert {job.name for job in defs.resolve_all_job_defs()} >= {"analytics_api_sync"}


def test_raw_assets_carry_group_kinds_owners_and_column_docs() -> None:
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    for table in TABLES:
        spec = specs[raw_asset_key(table)]
        assert spec.group_name == "analytics_api"
        assert spec.kinds == {"dlt", "duckdb"}
        assert spec.owners == ["team:data-engineering"]
        assert spec.description and table.description in spec.description
        assert spec.metadata["dagster/table_name"] == f"analytics_api.{table.name}"
        columns = spec.metadata["dagster/column_schema"].columns
        assert [(c.name, c.description, c.constraints.nullable) for c in columns] == [
            (c.name, c.description, c.nullable) for c in table.columns
        ]


def test_dagster_validates_the_code_location_without_any_secret(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Validation successful" in completed.stdout + completed.stderr
