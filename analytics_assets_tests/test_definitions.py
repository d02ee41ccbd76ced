"""The code location: what it defines is derived from schema.py, and it loads with no secrets."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.checks.assets import CHECK_SPECS
from analytics_assets.definitions import build_definitions, defs
from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.schema import (
    ACTIVITY_TABLES,
    CAMPAIGN_LEADS,
    DELETED_AT,
    DELETED_AT_DESCRIPTION,
    EVENTS,
    REPLIES,
    TABLES,
    TABLES_BY_NAME,
)
from analytics_assets.settings import PROJECT_DIR, SettingsError, load_automation_settings

RAW_KEYS = {dg.AssetKey(["analytics_api", table.name]) for table in TABLES}
DAILY_MODEL_KEYS = {dg.AssetKey(["analytics", "daily_activity"])}
MODEL_KEYS = {
    dg.AssetKey(["analytics", "campaign_performance"]),
    dg.AssetKey(["analytics", "owner_pipeline"]),
    dg.AssetKey(["analytics", "campaign_funnel"]),
    *DAILY_MODEL_KEYS,
}


def test_assets_and_jobs_are_the_declared_ones() -> None:
    assert set(defs.resolve_all_asset_keys()) == RAW_KEYS | MODEL_KEYS
    job = defs.resolve_job_def("analytics_api_sync")
    sync_keys = {raw_asset_key(table) for table in TABLES if table.window is None}
    assert set(job.asset_layer.executable_asset_keys) == sync_keys | (MODEL_KEYS - DAILY_MODEL_KEYS)
    assert {key.to_user_string() for key in job.asset_layer.asset_graph.asset_check_keys} == {
        spec.key.to_user_string() for spec in CHECK_SPECS if spec.asset_key in sync_keys
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
        ] + ([(DELETED_AT, DELETED_AT_DESCRIPTION, True)] if table.window is None else [])


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
        "analytics_api_activity_sync",
    }
    assert {s["name"] for s in found["schedules"]} == {s.name for s in defs.schedules}
    assert {s["name"] for s in found["sensors"]} == {s.name for s in defs.sensors}
    assert {c["key"] for c in found["asset_checks"]} == {
        spec.key.to_user_string() for spec in CHECK_SPECS
    }


def test_events_and_replies_are_daily_partitions_backfilled_in_one_run() -> None:
    activity = {raw_asset_key(table) for table in ACTIVITY_TABLES}
    graph = defs.resolve_asset_graph()
    for key in activity:
        node = graph.get(key)
        assert node.partitions_def == dg.DailyPartitionsDefinition(
            start_date="2025-01-01", timezone="UTC"
        )
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
    unpartitioned = RAW_KEYS - activity
    assert all(graph.get(key).partitions_def is None for key in unpartitioned)
    for key in DAILY_MODEL_KEYS:  # a model by day has the same days, one run per range
        assert graph.get(key).partitions_def == graph.get(raw_asset_key(REPLIES)).partitions_def
        assert graph.get(key).backfill_policy == dg.BackfillPolicy.single_run()
    job = defs.resolve_job_def("analytics_api_activity_sync")
    assert set(job.asset_layer.executable_asset_keys) == activity | DAILY_MODEL_KEYS
    schedule = next(s for s in defs.schedules if s.name == "analytics_api_activity_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == "30 0 * * *"


def test_the_history_start_comes_from_the_environment() -> None:
    settings = load_automation_settings({"ANALYTICS_HISTORY_START": "2026-06-01"})
    custom = build_definitions(settings)
    node = custom.resolve_asset_graph().get(raw_asset_key(EVENTS))
    assert node.partitions_def.start.date() == date(2026, 6, 1)
    with pytest.raises(SettingsError, match="ANALYTICS_HISTORY_START"):
        load_automation_settings({"ANALYTICS_HISTORY_START": "June 1st"})


def test_per_campaign_tables_depend_on_campaigns_in_the_lineage() -> None:
    graph = defs.resolve_asset_graph()
    campaigns = raw_asset_key(TABLES_BY_NAME["campaigns"])
    for table in (CAMPAIGN_LEADS, REPLIES):
        assert graph.get(raw_asset_key(table)).parent_keys == {campaigns}
