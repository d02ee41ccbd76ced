"""What a model's page shows without SQL: its top rows, its row count and its column lineage."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from analytics_assets.models.catalog import (
    CAMPAIGN_FUNNEL,
    CAMPAIGN_PERFORMANCE,
    DAILY_ACTIVITY,
    MODELS,
    OWNER_PIPELINE,
)
from analytics_assets.models.model import PREVIEW_ROWS, Model
from analytics_assets.sandbox import SandboxServer
from analytics_assets.sandbox.activity import today_utc
from analytics_assets_tests.conftest import (
    Serve,
    definitions_for_test,
    materialization_metadata,
    query,
    run_sync,
    step_failure,
)
from analytics_assets_tests.ingest.test_activity import run_days

# The preview orders of catalog.py, written again in Python: (column, descending).
ORDERS: dict[str, tuple[tuple[str, bool], ...]] = {
    CAMPAIGN_PERFORMANCE.name: (("replied", True), ("campaign_id", False)),
    OWNER_PIPELINE.name: (("leads_owned", True), ("user_id", False)),
    CAMPAIGN_FUNNEL.name: (("replies", True), ("campaign_id", False)),
    DAILY_ACTIVITY.name: (
        ("occurrences", True),
        ("day", False),
        ("campaign_id", False),
        ("event_type", False),
    ),
}


def _as_shown(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def expected_preview(warehouse: Path, model: Model, where: str = "") -> list[dict[str, Any]]:
    """The model's top rows, sorted here rather than by the SQL that builds the preview."""
    names = [column.name for column in model.columns]
    rows = [
        dict(zip(names, row, strict=True))
        for row in query(warehouse, f"SELECT * FROM {model.table_name}{where}")
    ]
    for column, descending in reversed(ORDERS[model.name]):
        if descending:
            rows.sort(key=lambda row: (row[column] is None, -(row[column] or 0)))
        else:
            rows.sort(key=lambda row: (row[column] is None, row[column] or ""))
    return [{name: _as_shown(row[name]) for name in names} for row in rows[:PREVIEW_ROWS]]


def shown(preview: dg.TableMetadataValue) -> list[dict[str, Any]]:
    return [dict(record.data) for record in preview.records]


@pytest.fixture
def server(serve: Serve) -> SandboxServer:
    return serve(users=12, leads=400, campaigns=30)


@pytest.mark.parametrize("model", [m for m in MODELS if not m.day_column], ids=lambda m: m.name)
def test_a_whole_model_shows_its_top_rows_and_row_count(
    server: SandboxServer, warehouse: Path, model: Model
) -> None:
    last = today_utc() - timedelta(days=1)
    instance = dg.DagsterInstance.ephemeral()
    assert run_days(last - timedelta(days=6), last, instance).success  # replies for the funnel
    result = run_sync(instance)
    assert result.success, step_failure(result)

    metadata = materialization_metadata(result)[model.key]

    total = query(warehouse, f"SELECT COUNT(*) FROM {model.table_name}")[0][0]
    assert metadata["dagster/row_count"] == total
    assert (
        total
        == {
            CAMPAIGN_PERFORMANCE.name: 30,
            OWNER_PIPELINE.name: 12,
            CAMPAIGN_FUNNEL.name: 30,
        }[model.name]
    )
    preview = metadata["preview"]
    assert [column.name for column in preview.schema.columns] == [c.name for c in model.columns]
    assert len(preview.records) == PREVIEW_ROWS
    assert shown(preview) == expected_preview(warehouse, model)
    assert metadata["dagster/column_lineage"] == model.column_lineage


def test_a_day_of_daily_activity_shows_that_days_top_rows_and_row_count(
    server: SandboxServer, warehouse: Path
) -> None:
    day = today_utc() - timedelta(days=2)
    result = run_days(day, day, dg.DagsterInstance.ephemeral())
    assert result.success, step_failure(result)

    metadata = materialization_metadata(result)[DAILY_ACTIVITY.key]

    where = f" WHERE day = DATE '{day}'"
    count = query(warehouse, f"SELECT COUNT(*) FROM {DAILY_ACTIVITY.table_name}{where}")[0][0]
    assert metadata["dagster/row_count"] == count
    assert shown(metadata["preview"]) == expected_preview(warehouse, DAILY_ACTIVITY, where)
    assert {row["day"] for row in shown(metadata["preview"])} == {day.isoformat()}


def test_every_model_column_traces_to_declared_raw_columns_in_the_definitions() -> None:
    graph = definitions_for_test().resolve_asset_graph()
    raw = {
        column.name
        for key in graph.get_all_asset_keys()
        if key.path[0] == "analytics_api"
        for column in graph.get(key).metadata["dagster/column_schema"].columns
    }
    for model in MODELS:
        lineage = graph.get(model.key).metadata["dagster/column_lineage"]
        assert lineage == model.column_lineage
        for deps in lineage.deps_by_column.values():
            for dep in deps:
                assert dep.asset_key in graph.get(model.key).parent_keys
                assert dep.column_name in raw
    funnel = graph.get(CAMPAIGN_FUNNEL.key).metadata["dagster/column_lineage"]
    assert {(d.asset_key.path[-1], d.column_name) for d in funnel.deps_by_column["replied"]} == {
        ("replies", "campaign_id"),
        ("replies", "lead_id"),
    }
    owners = graph.get(OWNER_PIPELINE.key).metadata["dagster/column_lineage"]
    assert set(owners.deps_by_column) == {c.name for c in OWNER_PIPELINE.columns}
