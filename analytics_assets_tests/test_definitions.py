"""The code location: what it defines is derived from schema.py, and it loads with no secrets."""

import json
import os
import subprocess
import sys
from pathlib import Path

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


def _dg(*args: str, home: str) -> subprocess.CompletedProcess[str]:
    """Run the `dg` CLI of this venv on the project, as a user with the venv activated."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    env.update(DAGSTER_HOME=home, VIRTUAL_ENV=sys.prefix)
    return subprocess.run(
        [str(Path(sys.executable).parent / "dg"), *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dg_checks_and_lists_the_same_definitions(tmp_path: Path) -> None:
    checked = _dg("check", "defs", home=str(tmp_path))
    listed = _dg("list", "defs", "--json", home=str(tmp_path))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    assert "does not match" not in checked.stdout + checked.stderr
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert {asset["asset_key"] for asset in found["assets"]} == {
        key.to_user_string() for key in RAW_KEYS | MODEL_KEYS
    }
    assert {job["name"] for job in found["jobs"]} == {
        "analytics_api_sync",
        "analytics_api_full_refresh",
    }
    assert {s["name"] for s in found["schedules"]} == {s.name for s in defs.schedules}
    assert {s["name"] for s in found["sensors"]} == {s.name for s in defs.sensors}
    assert {c["key"] for c in found["asset_checks"]} == {
        spec.key.to_user_string() for spec in CHECK_SPECS
    }
