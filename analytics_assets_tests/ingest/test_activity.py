"""Events and replies by UTC day: exact rows per range, midnight items once, one request
sequence per campaign for a whole backfill, idempotent re-runs, incomplete days retried."""

from __future__ import annotations

import logging
import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.sandbox import PatchRecord, RepeatedPage, SandboxServer, Status, Trickle
from analytics_assets.schema import ACTIVITY_TABLES, EVENTS, REPLIES, Table
from analytics_assets_tests.conftest import (
    TEST_KEY,
    Serve,
    configure,
    definitions_for_test,
    query,
    run_sync,
    step_failure,
)
from analytics_assets_tests.expected import loaded_rows, records_as_rows, select_declared

END = date(2026, 11, 20)  # the sandbox's activity: the 30 days before this one
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def run_days(first: date, last: date, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Materialize events and replies for the UTC days first..last (inclusive) in one run."""
    job = definitions_for_test().resolve_job_def("analytics_api_activity_sync")
    tags = dict(zip(RANGE_TAGS, (str(first), str(last)), strict=True))
    return job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)


def loaded(warehouse: Path, table: Table) -> set[tuple]:
    return loaded_rows(table, query(warehouse, select_declared(table)))


def served(server: SandboxServer, table: Table, first: date, end: date) -> set[tuple]:
    """The rows of ``table`` in the UTC days [first, end)."""
    return records_as_rows(server.records_in_days(table.name, first, end), table)


def at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.000Z"


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def test_a_week_backfill_is_one_run_with_one_request_sequence_per_campaign(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    first, last = END - timedelta(days=7), END - timedelta(days=1)

    result = run_days(first, last, instance)

    assert result.success, step_failure(result)
    for table in ACTIVITY_TABLES:
        expected = served(server, table, first, END)
        assert loaded(warehouse, table) == expected
        assert len(expected) > 20  # a week of real activity, not an empty comparison
    # the range's edges: its first midnight is in, the midnight after its last day is not
    edges = {at(midnight(first)), at(midnight(END))}
    sent = {r["sent_at"] for r in server.records("replies")} | {
        e["created_at"] for e in server.records("events")
    }
    assert edges <= sent  # the sandbox serves both edges, so the assertion above covers them
    log = [entry for entry in server.request_log if entry.resource]
    replies = [entry for entry in log if entry.resource == "replies"]
    campaigns = [c["id"] for c in server.records("campaigns")]
    first_pages = Counter(entry.parent for entry in replies if entry.page == 1)
    assert first_pages == Counter(campaigns)  # each campaign asked once for the whole week
    for campaign in campaigns:
        in_range = server.records_in_days("replies", first, END)
        mine = [r for r in in_range if r["campaign_id"] == campaign]
        asked = [entry for entry in replies if entry.parent == campaign]
        assert len(asked) == max(1, math.ceil(len(mine) / 100))
    events = [entry for entry in log if entry.resource == "events"]
    assert len(events) == math.ceil(len(server.records_in_days("events", first, END)) / 100)
    runs = instance.get_run_records()
    assert len(runs) == 1
    for table in ACTIVITY_TABLES:
        partitions = instance.get_materialized_partitions(raw_asset_key(table))
        assert partitions == {str(first + timedelta(days=i)) for i in range(7)}


def test_a_midnight_item_belongs_to_the_day_it_opens_only(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    day = END - timedelta(days=1)  # its closing midnight (END) carries an item of the next day

    assert run_days(day, day, instance).success
    for table in ACTIVITY_TABLES:
        assert loaded(warehouse, table) == served(server, table, day, END)
    loaded_at = {
        row[REPLIES.columns.index(REPLIES.column("sent_at"))] for row in loaded(warehouse, REPLIES)
    } | {
        row[EVENTS.columns.index(EVENTS.column("created_at"))] for row in loaded(warehouse, EVENTS)
    }
    assert midnight(END) not in loaded_at

    first = END - timedelta(days=30)
    assert run_days(first, first, instance).success  # the first day opens with a midnight item
    for table in ACTIVITY_TABLES:
        expected = served(server, table, day, END) | served(
            server, table, first, first + timedelta(days=1)
        )
        assert loaded(warehouse, table) == expected


def test_rematerializing_a_day_adds_nothing(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    day = END - timedelta(days=3)
    assert run_days(day, day, instance).success
    before = {table.name: loaded(warehouse, table) for table in ACTIVITY_TABLES}

    assert run_days(day, day, instance).success

    for table in ACTIVITY_TABLES:
        assert (
            loaded(warehouse, table)
            == before[table.name]
            == served(server, table, day, day + timedelta(days=1))
        )
        (count,) = query(warehouse, f"SELECT COUNT(*) FROM analytics_api.{table.name}")[0]
        assert count == len(before[table.name])


def test_a_day_whose_read_is_not_known_complete_is_read_again(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    first, last = END - timedelta(days=7), END - timedelta(days=1)
    server.inject("events", RepeatedPage(), page=2)  # page 2 served again as page 3: one lost

    result = run_days(first, last, instance)

    assert result.success, step_failure(result)
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert failures == [] and len(retries) == 1
    warned = [
        e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING
    ]
    [warning] = [w for w in warned if "not known complete" in w]
    assert warning.startswith(
        "events: the read is not known complete: 100 events record(s) were served more than "
        f"once in one read (pages 1, 2 of the read ending at GET {server.base_url}events?"
    )
    assert loaded(warehouse, EVENTS) == served(server, EVENTS, first, END)


def test_checks_catch_a_reply_whose_campaign_is_unknown(
    serve: Serve, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    assert run_sync(instance).success  # campaigns are in the warehouse
    day = END - timedelta(days=5)
    campaign = next(
        r["campaign_id"] for r in server.records_in_days("replies", day, day + timedelta(days=1))
    )
    served_first = server.records_in_days("replies", day, day + timedelta(days=1))
    stray = next(r["id"] for r in served_first if r["campaign_id"] == campaign)
    mine = [r for r in server.records("replies", campaign)]
    position = [r["id"] for r in mine if _in_day(r, day)].index(stray)
    server.inject(
        "replies", PatchRecord(position, ("campaign_id",), "c_gone"), page=1, parent=campaign
    )

    result = run_days(day, day, instance)

    assert result.success, step_failure(result)  # a WARN check: the data stays loaded
    evaluation = next(
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.asset_key == raw_asset_key(REPLIES)
        and e.event_specific_data.check_name == "references"
    )
    assert not evaluation.passed
    assert evaluation.metadata["sample_ids"].value == [stray]
    assert evaluation.metadata["offending_rows_by_column"].value == {
        "lead_id": 0,
        "campaign_id": 1,
    }


def _in_day(record: dict, day: date) -> bool:
    moment = datetime.fromisoformat(record["sent_at"]) if record["sent_at"] else None
    return moment is not None and midnight(day) <= moment < midnight(day + timedelta(days=1))


def test_a_passing_404_on_a_campaigns_replies_is_read_again_not_taken_as_deleted(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    first = END - timedelta(days=30)
    counts = Counter(r["campaign_id"] for r in server.records_in_days("replies", first, END))
    paged = next(c for c, n in counts.items() if n > 100)  # two pages in the range
    server.inject("replies", Status(404), page=2, parent=paged)

    result = run_days(first, END - timedelta(days=1), instance)

    assert result.success, step_failure(result)
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1
    assert loaded(warehouse, REPLIES) == served(server, REPLIES, first, END)
    logs = instance.all_logs(result.run_id)
    warned = [entry.user_message for entry in logs if entry.level == logging.WARNING]
    assert (
        "replies: the read is not known complete: 1 campaigns answered 404 for their replies; "
        "read again to tell a deleted one from a passing error"
    ) in warned


def test_a_campaign_deleted_during_a_backfill_is_gone_on_the_retry(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    first = END - timedelta(days=7)
    gone = server.records("campaigns")[3]["id"]
    server.delete_after_serving("campaigns", gone)

    result = run_days(first, END - timedelta(days=1), instance)

    assert result.success, step_failure(result)
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1  # the first read met the 404; the retry no longer lists it
    assert gone not in {row[-2] for row in loaded(warehouse, REPLIES)}
    assert loaded(warehouse, REPLIES) == served(server, REPLIES, first, END)


def _text_anywhere(warehouse: Path, needle: str) -> list[str]:
    """``schema.table.column`` of every text or JSON value in the warehouse holding ``needle``."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON')"
        ).fetchall()
        return [
            f"{schema}.{table}.{column}"
            for schema, table, column in columns
            if con.execute(
                f'SELECT COUNT(*) FROM "{schema}"."{table}" '
                f"WHERE CAST(\"{column}\" AS VARCHAR) LIKE '%' || ? || '%'",
                [needle],
            ).fetchone()[0]
        ]


def test_events_whose_data_is_not_an_object_or_holds_the_key_are_set_aside(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    first = END - timedelta(days=4)  # three days: a few pages of events
    server.inject("events", PatchRecord(10, ("data",), "just text"), page=1)
    server.inject("events", PatchRecord(20, ("data", "token"), TEST_KEY), page=2)
    server.inject("events", PatchRecord(30, ("data",), [1, 2]), page=3)  # a list is JSON too

    result = run_days(first, END - timedelta(days=2), instance)

    rejected = query(
        warehouse,
        "SELECT page, position, record_id, reason FROM analytics_api.rejected_records ORDER BY 1",
    )
    # the probe finds what is there: the set-aside record's raw JSON, kept, with the key masked
    assert _text_anywhere(warehouse, "just text") == ["analytics_api.rejected_records.raw_json"]
    assert [(page, position, reason) for page, position, _, reason in rejected] == [
        (1, 10, "data is a string; declared JSON (an object or a list)"),
        (2, 20, "it holds the API key (masked here); the warehouse never stores the key"),
    ]
    set_aside = {record_id for _, _, record_id, _ in rejected}
    expected = served(server, EVENTS, first, END - timedelta(days=1))
    in_day = {row[0] for row in expected}
    assert {row[0] for row in loaded(warehouse, EVENTS)} == in_day - set_aside
    assert _text_anywhere(warehouse, TEST_KEY) == []
    assert not result.success  # the blocking rejected_records check of events names them


def test_the_daily_schedule_reads_the_last_days_again_in_one_run(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    defs = definitions_for_test()
    schedule = next(s for s in defs.schedules if s.name == "analytics_api_activity_schedule")
    tick = datetime(END.year, END.month, END.day, 0, 30, tzinfo=UTC)

    [request] = schedule.evaluate_tick(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
    ).run_requests
    job = defs.resolve_job_def("analytics_api_activity_sync")
    result = job.execute_in_process(instance=instance, raise_on_error=False, tags=request.tags)

    assert result.success, step_failure(result)
    first = END - timedelta(days=3)  # ANALYTICS_ACTIVITY_LOOKBACK_DAYS: a reply that reached
    for table in ACTIVITY_TABLES:  # the API late still lands in a day read again
        assert loaded(warehouse, table) == served(server, table, first, END)
        assert instance.get_materialized_partitions(raw_asset_key(table)) == {
            str(first + timedelta(days=i)) for i in range(3)
        }
    assert len(instance.get_run_records()) == 1


def test_a_campaign_set_aside_fails_the_replies_check_not_the_days(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    bad = server.served_record("campaigns", 1, 2)["id"]
    server.inject("campaigns", PatchRecord(2, ("creator",), "a string"), page=1, times=10)
    server.inject("events", RepeatedPage(), page=2)  # the first attempt is incomplete: retried
    first, last = END - timedelta(days=3), END - timedelta(days=1)

    result = run_days(first, last, instance)

    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1  # for the events page, not for the campaign: re-reading won't fix it
    assert loaded(warehouse, EVENTS) == served(server, EVENTS, first, END)
    kept = [r for r in server.records_in_days("replies", first, END) if r["campaign_id"] != bad]
    assert loaded(warehouse, REPLIES) == records_as_rows(kept, REPLIES)
    days = {str(first + timedelta(days=i)) for i in range(3)}
    for table in ACTIVITY_TABLES:
        assert instance.get_materialized_partitions(raw_asset_key(table)) == days
    rejected = query(warehouse, "SELECT resource, record_id FROM analytics_api.rejected_records")
    assert rejected == [("campaigns", bad)]  # once, though the step ran twice
    failed = {
        (e.asset_key.path[-1], e.check_name): e.metadata["sample_ids"].value
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    }
    assert failed == {("replies", "rejected_records"): [bad]}
    assert not result.success  # that check is blocking


def test_a_campaigns_replies_trickled_byte_by_byte_end_at_the_deadline_and_are_read_again(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(activity_end=END)
    configure(ANALYTICS_API_TIMEOUT_S="1", ANALYTICS_API_BACKOFF_FACTOR="0.01")
    first = END - timedelta(days=7)
    campaign = server.records("campaigns")[5]["id"]
    server.inject("replies", Trickle(0.05), page=1, parent=campaign)  # minutes if left to run

    result = run_days(first, END - timedelta(days=1), instance)

    assert result.success, step_failure(result)
    asked = [e for e in server.request_log if e.resource == "replies" and e.parent == campaign]
    assert [(e.page, e.fault) for e in asked] == [(1, "Trickle"), (1, None)]
    assert loaded(warehouse, REPLIES) == served(server, REPLIES, first, END)
