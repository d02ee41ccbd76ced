"""campaign_funnel and daily_activity on a real PostgreSQL: the same exact rows as on DuckDB."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from analytics_assets.models.catalog import CAMPAIGN_FUNNEL, DAILY_ACTIVITY
from analytics_assets_tests.conftest import Serve, run_sync, step_failure
from analytics_assets_tests.ingest.test_activity import run_days
from analytics_assets_tests.models.test_engagement import (
    CONFIG,
    END,
    ActivityRow,
    days_of,
    edge_items,
    expected_daily_activity,
    funnel_of,
    loaded_replies,
)
from analytics_assets_tests.models.test_models import model_metadata
from analytics_assets_tests.postgres.conftest import Query
from analytics_assets_tests.postgres.test_postgres import _model_rows


def _activity_rows(postgres: Query) -> set[ActivityRow]:
    rows = postgres(f"SELECT * FROM {DAILY_ACTIVITY.table_name}")
    assert len(rows) == len(set(rows)), "a row is stored twice"
    keys = [row[:4] for row in rows]
    assert len(keys) == len(set(keys)), "a (day, campaign, event_type, source) is stored twice"
    return set(rows)


def _column_types(postgres: Query, name: str) -> list[tuple[str, str]]:
    return postgres(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = 'analytics_models' AND table_name = '{name}' "
        "ORDER BY ordinal_position"
    )


def test_daily_activity_by_day_and_the_funnel_are_exact_on_postgres(
    postgres: Query, serve: Serve
) -> None:
    server = serve(**CONFIG)
    instance = dg.DagsterInstance.ephemeral()

    before_days = run_sync(instance)

    assert before_days.success, step_failure(before_days)
    # replies were never loaded: the funnel counts none
    assert _model_rows(postgres, CAMPAIGN_FUNNEL) == funnel_of(server, ())
    assert _column_types(postgres, CAMPAIGN_FUNNEL.name) == [
        ("campaign_id", "character varying"),
        ("campaign_name", "character varying"),
        *((name, "bigint") for name in ("leads_enrolled", "contacted", "replied", "replies")),
        *((f"{s}_replies", "bigint") for s in ("positive", "negative", "neutral")),
        ("bounced", "bigint"),
        ("opted_out", "bigint"),
        ("reply_rate", "double precision"),
        ("first_reply_at", "timestamp with time zone"),
        ("last_reply_at", "timestamp with time zone"),
    ]

    first, last = END - timedelta(days=5), END - timedelta(days=3)
    middle = first + timedelta(days=1)
    assert edge_items(server, first)["midnight"] and edge_items(server, middle)["last_ms"]
    assert edge_items(server, last + timedelta(days=1))["midnight"]

    backfill = run_days(first, last, instance)

    assert backfill.success, step_failure(backfill)
    range_rows = _activity_rows(postgres)
    assert range_rows == expected_daily_activity(server, days_of(first, last))
    assert {row[0] for row in range_rows} == days_of(first, last)
    assert model_metadata(backfill)[DAILY_ACTIVITY.key]["dagster/row_count"] == len(range_rows)
    assert _column_types(postgres, DAILY_ACTIVITY.name) == [
        ("day", "date"),
        ("campaign_id", "character varying"),
        ("event_type", "character varying"),
        ("source", "character varying"),
        ("occurrences", "bigint"),
    ]

    again = run_days(middle, middle, instance)

    assert again.success, step_failure(again)
    assert _activity_rows(postgres) == range_rows  # the day replaced, not added to

    outside = END - timedelta(days=1)
    assert run_days(outside, outside, instance).success

    assert _activity_rows(postgres) == range_rows | expected_daily_activity(server, {outside})

    after_days = run_sync(instance)

    assert after_days.success, step_failure(after_days)
    read = days_of(first, last) | {outside}
    funnel = _model_rows(postgres, CAMPAIGN_FUNNEL)
    assert funnel == funnel_of(server, read)
    assert sum(row[5] for row in funnel.values()) == len(loaded_replies(server, read))
