"""The whole job against a real PostgreSQL: the same exact-row tests as on DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import dagster as dg

from analytics_assets.checks.assets import CHECK_SPECS
from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.models.catalog import CAMPAIGN_FUNNEL, CAMPAIGN_PERFORMANCE, OWNER_PIPELINE
from analytics_assets.models.model import Model
from analytics_assets.sandbox import DuplicateRecord, SandboxConfig, SandboxServer
from analytics_assets.schema import ACTIVITY_TABLES, LEADS, SYNC_TABLES, Table
from analytics_assets.settings import PROJECT_DIR
from analytics_assets.warehouse.sql import SQL_TYPES
from analytics_assets_tests.conftest import (
    TEST_KEY,
    run_sync,
    step_failure,
    use_api,
)
from analytics_assets_tests.expected import (
    expected_rows,
    loaded_rows,
    records_as_rows,
    select_declared,
)
from analytics_assets_tests.ingest.test_activity import run_days
from analytics_assets_tests.models.test_models import (
    Rows,
    _rounded,
    expected_campaign_performance,
    expected_owner_pipeline,
)
from analytics_assets_tests.postgres.conftest import Query


def _model_rows(query: Query, model: Model) -> Rows:
    rows = query(f"SELECT * FROM {model.table_name}")
    return {row[0]: _rounded(row) for row in rows}


def _column_types(query: Query, table: Table) -> dict[str, str | None]:
    """The PostgreSQL type of each declared column of ``table`` (None: missing)."""
    types = dict(
        query(
            "SELECT column_name, UPPER(data_type) FROM information_schema.columns "
            f"WHERE table_schema = 'analytics_api' AND table_name = '{table.name}'"
        )
    )
    return {column.name: types.get(column.name) for column in table.columns}


def _declared_types(table: Table) -> dict[str, str]:
    return {column.name: SQL_TYPES["postgres"][column.type] for column in table.columns}


def _lead_pages(server: SandboxServer) -> int:
    return sum(1 for entry in server.request_log if entry.resource == "leads")


def test_sync_checks_and_models_are_exact_on_postgres(postgres: Query) -> None:
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=2100)) as server:
        use_api(server)

        result = run_sync()

        assert result.success, step_failure(result)
        assert _lead_pages(server) == 21
        for table in SYNC_TABLES:
            rows = postgres(select_declared(table))
            assert len(rows) == len(server.records(table.name))
            assert set(rows) == expected_rows(server, table)
            assert _column_types(postgres, table) == _declared_types(table)
        evaluations = result.get_asset_check_evaluations()
        sync_keys = {raw_asset_key(table) for table in SYNC_TABLES}
        assert len(evaluations) == len([s for s in CHECK_SPECS if s.asset_key in sync_keys])
        assert [e.asset_check_key for e in evaluations if not e.passed] == []
        users, leads = server.records("users"), server.records("leads")
        campaign_leads = server.records("campaign_leads")
        assert _model_rows(postgres, OWNER_PIPELINE) == expected_owner_pipeline(
            users, leads, campaign_leads
        )
        assert _model_rows(postgres, CAMPAIGN_PERFORMANCE) == expected_campaign_performance(
            users, server.records("campaigns"), campaign_leads
        )

        changed = server.change_leads(30)
        server.clear_log()
        second = run_sync()

        assert second.success, step_failure(second)
        assert _lead_pages(server) == 1
        assert set(postgres(select_declared(LEADS))) == expected_rows(server, LEADS)
        assert len(postgres("SELECT id FROM analytics_api.leads")) == 2100
        assert len(changed) == 30


def test_a_week_of_events_and_replies_is_exact_on_postgres(postgres: Query) -> None:
    end = date(2026, 11, 20)
    first = end - timedelta(days=7)
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, activity_end=end)) as server:
        use_api(server)

        result = run_days(first, end - timedelta(days=1), dg.DagsterInstance.ephemeral())

        assert result.success, step_failure(result)
        for table in ACTIVITY_TABLES:
            expected = records_as_rows(server.records_in_days(table.name, first, end), table)
            assert loaded_rows(table, postgres(select_declared(table))) == expected
            assert _column_types(postgres, table) == _declared_types(table)
        failed = [e.asset_check_key for e in result.get_asset_check_evaluations() if not e.passed]
        # events and replies point at campaigns and leads, not loaded in this database yet
        assert [key.to_user_string() for key in failed] == ["analytics_api/replies:references"]


def test_a_blocking_check_fails_on_postgres_and_holds_the_models_back(postgres: Query) -> None:
    config = SandboxConfig(api_key=TEST_KEY, leads=300, defects=("malformed_email",))
    with SandboxServer(config) as server:
        use_api(server)

        result = run_sync()

        failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
        assert [e.asset_check_key.to_user_string() for e in failed] == [
            "analytics_api/users:email_format"
        ]
        assert failed[0].metadata["sample_ids"].value == server.defect_ids["malformed_email"]
    tables = postgres(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics_models'"
    )
    assert tables == [(CAMPAIGN_FUNNEL.name,)]  # the one model reading no users


def test_a_record_served_twice_is_loaded_once_on_postgres(postgres: Query) -> None:
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=300)) as server:
        use_api(server)
        server.inject("leads", DuplicateRecord(), page=3)  # page 2's first lead, again

        result = run_sync()

        rows = postgres(select_declared(LEADS))
        assert len(rows) == 300
        assert set(rows) == expected_rows(server, LEADS)
        [leads] = [
            event.materialization
            for event in result.get_asset_materialization_events()
            if event.asset_key == raw_asset_key(LEADS)
        ]
        assert leads.metadata["repeated_rows_removed"].value == 1
        assert leads.metadata["dagster/row_count"].value == 300
        [failed] = [e for e in result.get_asset_check_evaluations() if not e.passed]
        assert failed.asset_check_key.to_user_string() == "analytics_api/leads:primary_key"
        assert failed.metadata["duplicate_ids_in_table"].value == 0
        assert failed.metadata["duplicate_ids_in_last_load"].value == 1  # what the API did


def test_asset_kinds_name_the_configured_destination() -> None:
    code = (
        "import json; from analytics_assets.definitions import defs; "
        "print(json.dumps({s.key.to_user_string(): sorted(s.kinds) "
        "for s in defs.resolve_all_asset_specs()}))"
    )
    env = {**os.environ, "ANALYTICS_DESTINATION": "postgres"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout

    kinds = json.loads(out.strip().splitlines()[-1])
    assert kinds["analytics_api/leads"] == ["dlt", "postgres"]
    assert kinds["analytics/owner_pipeline"] == ["postgres", "sql"]
