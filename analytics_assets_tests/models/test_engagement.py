"""campaign_funnel and daily_activity end to end on DuckDB: sandbox over HTTP -> dlt -> raw tables
-> SQL -> analytics_models.*.

Expected rows are computed here in plain Python from the records the sandbox serves, never from
the warehouse: a record's UTC day is taken from its own timestamp, so the rows of a range of days
are known without asking the sandbox (or the SQL under test) which day an item at midnight is in.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from analytics_assets.models.catalog import CAMPAIGN_FUNNEL, DAILY_ACTIVITY
from analytics_assets.sandbox import PatchRecord, SandboxServer
from analytics_assets_tests.conftest import Serve, query, run_sync, step_failure
from analytics_assets_tests.ingest.test_activity import run_days
from analytics_assets_tests.models.test_models import (
    Rows,
    expected_campaign_funnel,
    model_metadata,
    model_tables,
    table_rows,
)

END = date(2026, 11, 20)  # the day after the sandbox's last day of activity
ACTIVITY_DAYS = 10
FIRST = END - timedelta(days=ACTIVITY_DAYS)
# Small enough to read every day quickly; dense enough for each day to hold events and replies
# at midnight and at 23:59:59.999, several event types per campaign, a campaign without
# enrollment, replies without lead, sentiment or sent_at, and a campaign without stats.
CONFIG: dict[str, Any] = {
    "users": 8,
    "leads": 120,
    "campaigns": 8,
    "table_counts": {"campaign_leads": 150, "replies": 300, "events": 1200},
    "activity_end": END,
    "activity_days": ACTIVITY_DAYS,
}

ActivityRow = tuple[date, str | None, str, str, int]
"""A daily_activity row: day, campaign_id, event_type, source, occurrences."""


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def moment(value: str) -> datetime:
    """A served ISO 8601 timestamp as an aware datetime in UTC."""
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def utc_day(value: str) -> date:
    """The UTC day a served timestamp belongs to: [midnight, next midnight)."""
    return moment(value).date()


def days_of(first: date, last: date) -> set[date]:
    """The days first..last, inclusive."""
    return {first + timedelta(days=offset) for offset in range((last - first).days + 1)}


def loaded_replies(server: SandboxServer, days: Iterable[date]) -> list[dict[str, Any]]:
    """The replies the activity job loads for ``days``: those sent in one of them."""
    wanted = set(days)
    return [
        reply
        for reply in server.records("replies")
        if reply.get("sent_at") and utc_day(reply["sent_at"]) in wanted
    ]


def expected_daily_activity(server: SandboxServer, days: Iterable[date]) -> set[ActivityRow]:
    """daily_activity for ``days`` computed from the served events and replies."""
    wanted = set(days)
    counts: Counter[tuple[date, str | None, str, str]] = Counter()
    for event in server.records("events"):
        day = utc_day(event["created_at"])
        if day in wanted:
            counts[(day, event["data"].get("campaign_id"), event["event_type"], "events")] += 1
    for reply in server.records("replies"):
        if reply.get("sent_at") and (day := utc_day(reply["sent_at"])) in wanted:
            counts[(day, reply["campaign_id"], "reply", "replies")] += 1
    return {(*key, count) for key, count in counts.items()}


def activity_rows(path: Path) -> set[ActivityRow]:
    """daily_activity as stored; no row twice (a day rebuilt must not add to itself)."""
    rows = query(path, f"SELECT * FROM {DAILY_ACTIVITY.table_name}")
    assert len(rows) == len(set(rows)), "a row is stored twice"
    keys = [row[:4] for row in rows]
    assert len(keys) == len(set(keys)), "a (day, campaign, event_type, source) is stored twice"
    return set(rows)


def of_days(rows: set[ActivityRow], days: Iterable[date]) -> set[ActivityRow]:
    wanted = set(days)
    return {row for row in rows if row[0] in wanted}


def edge_items(server: SandboxServer, day: date) -> dict[str, set[str]]:
    """Ids of the events and replies stamped exactly at midnight opening ``day`` and at the
    last millisecond of the day before."""
    opening = datetime(day.year, day.month, day.day, tzinfo=UTC)
    closing = opening - timedelta(milliseconds=1)
    found: dict[str, set[str]] = {"midnight": set(), "last_ms": set()}
    for name, column in (("events", "created_at"), ("replies", "sent_at")):
        for record in server.records(name):
            if not record.get(column):
                continue
            at = moment(record[column])
            if at == opening:
                found["midnight"].add(record["id"])
            elif at == closing:
                found["last_ms"].add(record["id"])
    return found


# -- daily_activity ------------------------------------------------------------------------------


def test_a_range_backfill_builds_exactly_the_days_of_the_range_in_one_run(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(**CONFIG)
    first, last = END - timedelta(days=5), END - timedelta(days=3)
    days = days_of(first, last)

    result = run_days(first, last, instance)

    assert result.success, step_failure(result)
    expected = expected_daily_activity(server, days)
    assert {row[0] for row in expected} == days  # every day of the range has activity
    assert {row[3] for row in expected} == {"events", "replies"}
    assert activity_rows(warehouse) == expected
    # the range's first midnight is in it, the midnight after its last day is not: both carry
    # items, so the exact rows above exclude next-day items and include the opening ones
    assert (
        edge_items(server, first)["midnight"]
        and edge_items(server, last + timedelta(1))["midnight"]
    )
    (built,) = model_metadata(result).values()
    assert built["dagster/row_count"] == len(expected)
    assert len(instance.get_run_records()) == 1
    assert instance.get_materialized_partitions(DAILY_ACTIVITY.key) == {str(d) for d in days}
    assert model_tables(warehouse) == {DAILY_ACTIVITY.name}  # the job builds the day model only


def test_items_at_midnight_land_in_the_day_they_open(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(**CONFIG)
    day = END - timedelta(days=4)
    edges = edge_items(server, day)
    # the sandbox stamps items at this day's opening midnight and at 23:59:59.999 before it
    assert edges["midnight"] and edges["last_ms"]

    assert run_days(day, day, instance).success

    alone = activity_rows(warehouse)
    assert alone == expected_daily_activity(server, {day})
    assert {row[0] for row in alone} == {day}
    # what the day holds is exactly its items: the midnight ones in, the 23:59:59.999 ones out
    in_day = {e["id"] for e in server.records("events") if utc_day(e["created_at"]) == day} | {
        r["id"] for r in loaded_replies(server, {day})
    }
    assert edges["midnight"] <= in_day and not edges["last_ms"] & in_day
    assert sum(row[4] for row in alone) == len(in_day)

    before = day - timedelta(days=1)
    assert run_days(before, before, instance).success

    both = activity_rows(warehouse)
    assert of_days(both, {day}) == alone
    assert of_days(both, {before}) == expected_daily_activity(server, {before})
    assert sum(row[4] for row in of_days(both, {before})) == sum(
        1 for e in server.records("events") if utc_day(e["created_at"]) == before
    ) + len(loaded_replies(server, {before}))


def test_rebuilding_a_day_replaces_its_rows_and_leaves_other_days_untouched(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(**CONFIG)
    first, last = END - timedelta(days=6), END - timedelta(days=4)
    middle = first + timedelta(days=1)
    assert run_days(first, last, instance).success
    before = activity_rows(warehouse)
    assert before == expected_daily_activity(server, days_of(first, last))

    again = run_days(middle, middle, instance)

    assert again.success, step_failure(again)
    assert activity_rows(warehouse) == before  # no duplicate, no loss
    (built,) = model_metadata(again).values()
    assert built["dagster/row_count"] == len(of_days(before, {middle}))

    # Take the first day's events out of the raw table behind the model's back: a rebuild of
    # another day must not touch the first day's rows (it rebuilds its own days only).
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "DELETE FROM analytics_api.events WHERE created_at >= ? AND created_at < ?",
            [
                datetime(first.year, first.month, first.day, tzinfo=UTC),
                datetime(middle.year, middle.month, middle.day, tzinfo=UTC),
            ],
        )
    outside = END - timedelta(days=2)

    assert run_days(outside, outside, instance).success

    after = activity_rows(warehouse)
    assert of_days(after, days_of(first, last)) == before
    assert of_days(after, {outside}) == expected_daily_activity(server, {outside})
    assert {row[0] for row in after} == days_of(first, last) | {outside}

    # rebuilding the first day reads it again: its rows are back, the others as they were
    assert run_days(first, first, instance).success

    assert activity_rows(warehouse) == after


@pytest.fixture
def far_time_zone() -> Iterator[str]:
    """The process (hence each new DuckDB session) in UTC+14, where a UTC day's last ten hours
    fall on the next local day; the previous zone afterwards."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    try:
        yield os.environ["TZ"]
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


def test_days_are_utc_days_whatever_the_session_time_zone(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance, far_time_zone: str
) -> None:
    server = serve(**CONFIG)
    day = END - timedelta(days=2)
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == (far_time_zone,)

    assert run_days(day, day, instance).success

    assert activity_rows(warehouse) == expected_daily_activity(server, {day})


# -- campaign_funnel -----------------------------------------------------------------------------


def funnel_of(server: SandboxServer, days: Iterable[date]) -> Rows:
    return expected_campaign_funnel(
        server.records("campaigns"),
        server.records("campaign_leads"),
        loaded_replies(server, days),
    )


def test_before_any_day_was_read_the_funnel_counts_no_replies(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(**CONFIG)

    result = run_sync(instance)

    assert result.success, step_failure(result)
    tables = query(
        warehouse,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics_api'",
    )
    assert "replies" not in {name for (name,) in tables}  # never loaded: counts as empty
    expected = funnel_of(server, ())
    assert table_rows(warehouse, CAMPAIGN_FUNNEL) == expected
    assert len(expected) == len(server.records("campaigns")) == 8
    assert all(
        row[4:9] == (0, 0, 0, 0, 0) and row[12:] == (None, None) for row in expected.values()
    )
    # reply_rate: 0 of the leads enrolled, none without enrollment
    assert {row[11] for row in expected.values() if row[2]} == {0.0}
    assert {row[11] for row in expected.values() if not row[2]} == {None}
    assert model_metadata(result)[CAMPAIGN_FUNNEL.key]["dagster/row_count"] == 8


def test_the_funnel_counts_the_replies_of_the_days_read(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(**CONFIG)
    campaigns = server.records("campaigns")
    enrolled = {enrollment["campaign_id"] for enrollment in server.records("campaign_leads")}
    (idle,) = [c["id"] for c in campaigns if c["id"] not in enrolled]  # the sandbox leaves one
    all_days = days_of(FIRST, END - timedelta(days=1))
    replies = loaded_replies(server, all_days)
    # what the generated data exercises (each would be hidden by data without it)
    assert any(c["stats"] is None for c in campaigns)  # contacted null
    assert any(r["lead_id"] is None for r in replies)  # not a lead that replied
    assert any(r["sentiment"] is None for r in replies)  # a reply of no sentiment
    assert any(r["sent_at"] is None for r in server.records("replies"))  # never loaded
    per_lead = Counter((r["campaign_id"], r["lead_id"]) for r in replies if r["lead_id"])
    assert max(per_lead.values()) > 1  # a lead replying twice is one lead replied
    assert run_sync(instance).success
    first, last = END - timedelta(days=5), END - timedelta(days=3)
    assert run_days(first, last, instance).success

    partial = run_sync(instance)

    assert partial.success, step_failure(partial)
    some = funnel_of(server, days_of(first, last))
    assert table_rows(warehouse, CAMPAIGN_FUNNEL) == some
    in_range = len(loaded_replies(server, days_of(first, last)))
    assert sum(row[5] for row in some.values()) == in_range < len(replies)

    assert run_days(FIRST, END - timedelta(days=1), instance).success
    full = run_sync(instance)

    assert full.success, step_failure(full)
    expected = funnel_of(server, all_days)
    assert table_rows(warehouse, CAMPAIGN_FUNNEL) == expected
    assert sum(row[5] for row in expected.values()) == len(replies)
    assert expected[idle][2:9] == (0, expected[idle][3], 0, 0, 0, 0, 0)
    assert expected[idle][12:] == (None, None)
    assert any(row[4] < row[5] for row in expected.values())
    assert any(row[6] + row[7] + row[8] < row[5] for row in expected.values())
    # the enrollment count is the one campaign_performance reports
    performance = query(
        warehouse, "SELECT campaign_id, leads_enrolled FROM analytics_models.campaign_performance"
    )
    assert dict(performance) == {key: row[2] for key, row in expected.items()}


def test_an_events_campaign_of_the_wrong_shape_is_counted_not_lost(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    """data is free-form: one event names its campaign as a number, another names none. Both
    are counted (under '12345' and under no campaign); the day's events all add up."""
    server = serve(**CONFIG)
    day = END - timedelta(days=2)
    server.inject("events", PatchRecord(0, ("data", "campaign_id"), 12345), page=1)
    server.inject("events", PatchRecord(0, ("data", "campaign_id"), remove=True), page=2)

    result = run_days(day, day, instance)

    assert result.success, step_failure(result)
    loaded = query(
        warehouse,
        "SELECT event_type, CAST(data AS VARCHAR) FROM analytics_api.events "
        f"WHERE CAST(created_at AT TIME ZONE 'UTC' AS DATE) = DATE '{day}'",
    )
    counts: Counter[tuple[date, str | None, str, str]] = Counter()
    for event_type, data in loaded:
        campaign = json.loads(data).get("campaign_id")
        counts[(day, None if campaign is None else str(campaign), event_type, "events")] += 1
    events = {row for row in of_days(activity_rows(warehouse), [day]) if row[3] == "events"}
    assert events == {(*key, count) for key, count in counts.items()}
    assert (
        sum(row[4] for row in events)
        == len(loaded)
        == len([e for e in server.records("events") if utc_day(e["created_at"]) == day])
    )
    assert sum(row[4] for row in events if row[1] == "12345") == 1
    assert None in {campaign for _, campaign, *_ in events}  # the event that names none
    assert len([e for e in server.request_log if e.resource == "events" and e.fault]) == 2
