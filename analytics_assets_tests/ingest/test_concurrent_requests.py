"""Requests in flight at once (dlt's parallelized resources, ANALYTICS_API_MAX_CONCURRENCY):
never more than the cap, never past the API's rate limit, retries and set-aside records as one
at a time, every row loaded. The sandbox answers each request after a latency, concurrently,
and its request log counts the requests being answered when each one arrived."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from analytics_assets.sandbox import PatchRecord, SandboxServer, Status
from analytics_assets.schema import CAMPAIGN_LEADS, SYNC_TABLES
from analytics_assets_tests.conftest import Serve, configure, query, run_sync, step_failure
from analytics_assets_tests.expected import (
    expected_rows,
    loaded_rows,
    records_as_rows,
    select_declared,
)

LATENCY_S = 0.05
CAMPAIGNS = 12


def assert_all_loaded(server: SandboxServer, warehouse: Path) -> None:
    for table in SYNC_TABLES:
        loaded = loaded_rows(table, query(warehouse, select_declared(table)))
        assert loaded == expected_rows(server, table), table.name


@pytest.mark.parametrize("cap", [1, 3, 8])
def test_never_more_requests_in_flight_than_the_cap(
    serve: Serve, warehouse: Path, cap: int
) -> None:
    server = serve(latency_s=LATENCY_S, campaigns=CAMPAIGNS)
    configure(ANALYTICS_API_MAX_CONCURRENCY=str(cap))

    result = run_sync()

    assert result.success, step_failure(result)
    assert max(entry.in_flight for entry in server.request_log) == cap
    assert_all_loaded(server, warehouse)


def test_the_apis_rate_limit_is_never_exceeded_with_requests_in_flight(
    serve: Serve, warehouse: Path
) -> None:
    # 8 in flight against 15 a window: reading X-RateLimit-Remaining alone would overshoot by
    # the requests still in flight when it reaches 0.
    server = serve(latency_s=LATENCY_S, campaigns=CAMPAIGNS, rate_limit=15, rate_window_s=2.0)
    configure(ANALYTICS_API_MAX_CONCURRENCY="8")

    result = run_sync()

    assert result.success, step_failure(result)
    log = server.request_log
    assert [(entry.path, entry.page) for entry in log if entry.status == 429] == []
    assert len(log) > 3 * 15  # the sync spanned several windows
    assert max(entry.in_flight for entry in log) > 1
    assert_all_loaded(server, warehouse)


def test_each_failed_request_is_retried_once_in_flight_with_the_others(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(latency_s=LATENCY_S, campaigns=CAMPAIGNS)
    configure(ANALYTICS_API_MAX_CONCURRENCY="8", ANALYTICS_API_BACKOFF_FACTOR="0.05")
    parents = [
        c["id"] for c in server.records("campaigns") if server.records("campaign_leads", c["id"])
    ]
    for parent in parents[:4]:
        server.inject("campaign_leads", Status(503), page=1, parent=parent)
    server.inject("leads", Status(502), page=2)

    result = run_sync()

    assert result.success, step_failure(result)
    answers: dict[tuple[str | None, str | None, int | None], list[int]] = defaultdict(list)
    for entry in server.request_log:
        answers[(entry.resource, entry.parent, entry.page)].append(entry.status)
    failed = {key: statuses for key, statuses in answers.items() if statuses != [200]}
    assert failed == {
        **{("campaign_leads", parent, 1): [503, 200] for parent in parents[:4]},
        ("leads", None, 2): [502, 200],
    }
    assert_all_loaded(server, warehouse)


def test_a_bad_record_of_one_campaign_is_set_aside_while_the_others_load(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(latency_s=LATENCY_S, campaigns=CAMPAIGNS)
    configure(ANALYTICS_API_MAX_CONCURRENCY="8")
    parent = next(
        c["id"] for c in server.records("campaigns") if server.records("campaign_leads", c["id"])
    )
    bad = server.records("campaign_leads", parent)[0]
    server.inject("campaign_leads", PatchRecord(0, ("id",), remove=True), page=1, parent=parent)

    result = run_sync()

    assert result.is_node_success("analytics_api_raw"), step_failure(result)
    assert "analytics_api/campaign_leads: rejected_records" in step_failure(result)
    loaded = loaded_rows(CAMPAIGN_LEADS, query(warehouse, select_declared(CAMPAIGN_LEADS)))
    served = [r for r in server.records("campaign_leads") if r["id"] != bad["id"]]
    assert loaded == records_as_rows(served, CAMPAIGN_LEADS)
    rejected = query(
        warehouse,
        "SELECT resource, page_url, page, position, record_id FROM analytics_api.rejected_records",
    )
    assert rejected == [
        ("campaign_leads", f"{server.base_url}campaigns/{parent}/leads", 1, 0, None)
    ]


def test_a_429_naming_no_budget_holds_the_other_requests_back(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(latency_s=LATENCY_S, campaigns=CAMPAIGNS)  # no rate limit: no budget headers
    configure(ANALYTICS_API_MAX_CONCURRENCY="8")
    server.inject("leads", Status(429, headers={"Retry-After": "2"}), page=2)

    result = run_sync()

    assert result.success, step_failure(result)
    log = server.request_log
    limited = [entry for entry in log if entry.status == 429]
    assert [(entry.resource, entry.page) for entry in limited] == [("leads", 2)]
    # Requests already in flight arrive at once; none starts until Retry-After has passed.
    held = [entry for entry in log if limited[0].time + 0.5 < entry.time < limited[0].time + 1.9]
    assert held == []
    assert_all_loaded(server, warehouse)
