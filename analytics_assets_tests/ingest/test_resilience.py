"""Faults, retries and rate limits: the sandbox's request log is the evidence."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.sandbox import (
    Delay,
    DuplicateRecord,
    EmptyPageHasMore,
    ErrorEnvelope,
    InvalidJson,
    MissingResourceKey,
    RecordsNotAList,
    RepeatedPage,
    Reset,
    SandboxConfig,
    SandboxServer,
    Status,
    Truncated,
)
from analytics_assets.schema import LEADS, SYNC_TABLES
from analytics_assets_tests.conftest import (
    TEST_KEY,
    Serve,
    configure,
    query,
    run_sync,
    step_failure,
    use_api,
)
from analytics_assets_tests.expected import expected_rows, records_as_rows, select_declared

LEAD_PAGES = 5
SMALL = {"campaign_leads": 20, "dnc_domains": 10}
OTHER_REQUESTS = 8
"""Requests of a sync besides the lead pages, on ``SMALL`` data with 2 campaigns: users,
campaigns and the four lookups one page each, and one per campaign for its leads."""


@pytest.fixture
def server(serve: Serve) -> SandboxServer:
    return serve(leads=LEAD_PAGES * 100, campaigns=2, table_counts=SMALL)


def _attempts(server: SandboxServer, resource: str, page: int) -> list:
    return [e for e in server.request_log if e.resource == resource and e.page == page]


def _tables_match(server: SandboxServer, warehouse: Path) -> None:
    for table in SYNC_TABLES:
        assert set(query(warehouse, select_declared(table))) == expected_rows(server, table)
        (count,) = query(warehouse, f"SELECT COUNT(*) FROM analytics_api.{table.name}")[0]
        assert count == len({record["id"] for record in server.records(table.name)})


def test_503_twice_then_200_retries_with_backoff_of_2_then_4_seconds(
    server: SandboxServer, warehouse: Path
) -> None:
    server.inject("leads", Status(503), page=3, times=2)

    result = run_sync()

    assert result.success, step_failure(result)
    attempts = _attempts(server, "leads", 3)
    assert [e.status for e in attempts] == [503, 503, 200]
    gaps = [later.time - earlier.time for earlier, later in pairwise(attempts)]
    assert gaps[0] == pytest.approx(2, abs=0.5)
    assert gaps[1] == pytest.approx(4, abs=0.5)
    _tables_match(server, warehouse)


def test_a_429_without_retry_after_waits_for_x_ratelimit_reset(
    server: SandboxServer, warehouse: Path
) -> None:
    # The reset 4-5 s after the 429 is served (whole epoch seconds): later than the 2 s backoff.
    server.inject("users", Status(429, reset_in_s=4), page=1)
    configure(ANALYTICS_API_MAX_CONCURRENCY="1")  # users first (in flight: concurrent tests)

    result = run_sync()

    assert result.success, step_failure(result)
    first, second = _attempts(server, "users", 1)
    assert (first.status, second.status) == (429, 200)
    assert 4.0 <= second.time - first.time <= 6.0
    _tables_match(server, warehouse)


def test_retry_after_is_honoured(server: SandboxServer) -> None:
    server.inject("campaigns", Status(503, headers={"Retry-After": "1"}), page=1)

    assert run_sync().success

    first, second = _attempts(server, "campaigns", 1)
    assert second.time - first.time == pytest.approx(1, abs=0.4)


def _step_retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(1 for event in result.all_events if event.event_type_value == "STEP_UP_FOR_RETRY")


def test_after_three_failed_attempts_dagster_retries_the_sync(
    server: SandboxServer, warehouse: Path
) -> None:
    server.inject("leads", Status(502), page=2, times=3)

    result = run_sync()

    assert result.success, step_failure(result)
    assert _step_retries(result) == 1
    assert [e.status for e in _attempts(server, "leads", 2)] == [502, 502, 502, 200]
    _tables_match(server, warehouse)


def test_a_lasting_outage_fails_the_run_with_a_clear_error(
    server: SandboxServer, warehouse: Path
) -> None:
    server.inject("leads", Status(502), page=2, times=1000)

    result = run_sync()

    assert not result.success
    assert _step_retries(result) == 2  # ANALYTICS_RETRY_MAX
    assert [e.status for e in _attempts(server, "leads", 2)] == [502] * 9  # 3 x 3 attempts
    message = step_failure(result)
    assert f"leads: GET {server.base_url}leads?page=2 answered 502" in message
    assert "retry later" in message


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_client_errors_are_not_retried(server: SandboxServer, status: int) -> None:
    server.inject("campaigns", Status(status), page=1)

    result = run_sync()

    assert not result.success
    assert [e.status for e in _attempts(server, "campaigns", 1)] == [status]
    assert f"campaigns: GET {server.base_url}campaigns answered {status}" in step_failure(result)


@pytest.mark.parametrize("fault", [Reset(), Truncated()], ids=["reset", "truncated"])
def test_a_broken_connection_is_retried(
    server: SandboxServer, warehouse: Path, fault: object
) -> None:
    server.inject("leads", fault, page=4)

    result = run_sync()

    assert result.success, step_failure(result)
    assert [e.status for e in _attempts(server, "leads", 4)] == [0, 200]
    _tables_match(server, warehouse)


def test_a_timeout_is_retried(server: SandboxServer, warehouse: Path) -> None:
    configure(ANALYTICS_API_TIMEOUT_S="0.5")
    server.inject("leads", Delay(2), page=2)

    result = run_sync()

    assert result.success, step_failure(result)
    assert len(_attempts(server, "leads", 2)) == 2
    _tables_match(server, warehouse)


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (MissingResourceKey(), "answered without the 'leads' key"),
        (RecordsNotAList(None), "answered 'leads' as null, not a list of records"),
        (RecordsNotAList({"id": "l_x"}), "answered 'leads' as an object, not a list of records"),
        (RecordsNotAList("oops"), "answered 'leads' as a string, not a list of records"),
        (
            ErrorEnvelope(),
            "answered 200 with status 'error' (An error occurred while listing leads.)",
        ),
    ],
    ids=["missing_key", "null_records", "object_records", "string_records", "error_envelope"],
)
def test_a_bad_body_fails_clearly_and_keeps_the_previous_data(
    server: SandboxServer, warehouse: Path, fault: object, says: str
) -> None:
    assert run_sync().success
    before = set(query(warehouse, select_declared(LEADS)))
    server.change_leads(3)
    server.inject("leads", fault, page=1)

    result = run_sync()

    assert not result.success
    message = step_failure(result)
    assert f"leads: GET {server.base_url}leads" in message
    assert says in message
    assert set(query(warehouse, select_declared(LEADS))) == before


def test_an_empty_page_that_hid_records_fails_clearly(
    server: SandboxServer, warehouse: Path
) -> None:
    server.inject("leads", EmptyPageHasMore(), page=2)

    result = run_sync()

    assert not result.success
    assert (
        f"GET {server.base_url}leads?page=2 answered an empty page with has_more true, and a "
        "later page had records"
    ) in step_failure(result)
    assert (
        not warehouse.exists()
        or query(
            warehouse,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics_api'"
            " AND table_name = 'leads'",
        )
        == []
    )  # nothing partial was loaded


def test_trailing_empty_pages_claiming_more_end_the_read(
    server: SandboxServer, warehouse: Path
) -> None:
    server.inject("leads", EmptyPageHasMore(), page=LEAD_PAGES, times=1)
    last_page = {r["id"] for r in server.records("leads")[-100:]}

    result = run_sync()

    assert result.success, step_failure(result)
    assert [e.page for e in server.request_log if e.resource == "leads"][-2:] == [
        LEAD_PAGES,
        LEAD_PAGES + 1,
    ]
    loaded = {row[0] for row in query(warehouse, "SELECT id FROM analytics_api.leads")}
    assert loaded == {r["id"] for r in server.records("leads")} - last_page


def test_endless_empty_pages_end_with_a_clear_error(server: SandboxServer) -> None:
    server.inject("leads", EmptyPageHasMore(), times=1000)

    result = run_sync()

    assert not result.success
    assert "empty page in a row that still claims has_more" in step_failure(result)
    assert len([e for e in server.request_log if e.resource == "leads"]) == 5


def test_an_endpoint_that_ignores_the_page_ends_with_a_clear_error(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(leads=2500, campaigns=2, table_counts=SMALL)
    server.inject("leads", RepeatedPage(1), times=1000)  # every page serves page 1's records

    result = run_sync()

    assert not result.success
    assert (
        f"leads: GET {server.base_url}leads?page=6 served the same records as the 5 pages "
        "before it: the endpoint seems to ignore the page it is asked for"
    ) in step_failure(result)
    assert [e.page for e in server.request_log if e.resource == "leads"] == [1, 2, 3, 4, 5, 6]
    assert query(
        warehouse, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'leads'"
    ) == [(0,)]  # nothing was loaded


def test_the_same_record_on_two_pages_is_merged_once_and_reported(
    server: SandboxServer, warehouse: Path
) -> None:
    server.inject("leads", DuplicateRecord(), page=3)
    duplicate = server.records("leads")[100]["id"]  # the first record of page 2, again on page 3

    result = run_sync()

    _tables_match(server, warehouse)
    checks = {
        e.asset_check_key.name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] == "leads"
    }
    assert not checks["primary_key"].passed
    assert checks["primary_key"].metadata["duplicate_ids_in_last_load"].value == 1
    assert checks["primary_key"].metadata["duplicate_ids_in_table"].value == 0
    assert checks["primary_key"].metadata["sample_ids"].value == [duplicate]
    [leads] = [
        m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == "leads"
    ]
    metadata = leads.materialization.metadata
    assert metadata["repeated_rows_removed"].value == 1
    assert metadata["dagster/row_count"].value == len(server.records("leads"))


def test_a_record_changed_between_its_two_servings_is_loaded_once_as_one_of_them(
    server: SandboxServer, warehouse: Path
) -> None:
    server.inject("leads", DuplicateRecord({"sent_count": 999, "status": "changed"}), page=3)
    first = server.records("leads")[100]  # the first record of page 2, again on page 3
    changed = {**first, "sent_count": 999, "status": "changed"}

    result = run_sync()

    rows = set(query(warehouse, select_declared(LEADS)))
    others = expected_rows(server, LEADS) - records_as_rows([first], LEADS)
    kept = rows - others
    assert len(rows) == len(server.records("leads"))  # one row per id, none lost
    assert kept in (records_as_rows([first], LEADS), records_as_rows([changed], LEADS))
    [leads] = [
        m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == "leads"
    ]
    assert leads.materialization.metadata["repeated_rows_removed"].value == 1
    assert leads.materialization.metadata["read_complete"].value is False  # the cursor holds


def test_a_rate_limited_api_is_paced_without_a_single_429(warehouse: Path) -> None:
    config = SandboxConfig(
        api_key=TEST_KEY,
        leads=900,
        campaigns=2,
        table_counts=SMALL,
        rate_limit=4,
        rate_window_s=2,
    )
    with SandboxServer(config) as server:
        use_api(server)

        result = run_sync()

        assert result.success, step_failure(result)
        statuses = [e.status for e in server.request_log]
        assert len(statuses) == 9 + OTHER_REQUESTS and set(statuses) == {200}
        _tables_match(server, warehouse)


def test_requests_per_minute_caps_the_rate(server: SandboxServer) -> None:
    configure(ANALYTICS_API_REQUESTS_PER_MINUTE="240")  # one per 0.25 s

    assert run_sync().success

    times = sorted(e.time for e in server.request_log)
    assert len(times) == LEAD_PAGES + OTHER_REQUESTS
    assert min(b - a for a, b in pairwise(times)) >= 0.24


def test_client_errors_and_bad_answers_are_not_retried_by_dagster(
    server: SandboxServer,
) -> None:
    server.inject("users", Status(404), page=1)
    client_error = run_sync()
    server.inject("users", MissingResourceKey(), page=1)
    bad_answer = run_sync()

    assert not client_error.success and not bad_answer.success
    assert _step_retries(client_error) == 0 and _step_retries(bad_answer) == 0
    assert [e.status for e in server.request_log if e.resource == "users"] == [404, 200]


@pytest.mark.parametrize(
    "fault", [InvalidJson(), Truncated(content_length=False)], ids=["html", "cut"]
)
def test_a_200_that_is_not_json_is_retried_like_a_503(
    server: SandboxServer, warehouse: Path, fault: object
) -> None:
    server.inject("leads", fault, page=2, times=2)

    result = run_sync()

    assert result.success, step_failure(result)
    assert [e.fault for e in _attempts(server, "leads", 2)] == [type(fault).__name__] * 2 + [None]
    _tables_match(server, warehouse)


def test_a_200_that_stays_html_fails_clearly_after_every_retry_keeping_the_data(
    server: SandboxServer, warehouse: Path
) -> None:
    assert run_sync().success
    before = set(query(warehouse, select_declared(LEADS)))
    configure(ANALYTICS_API_BACKOFF_FACTOR="0.01")
    server.change_leads(3)
    server.clear_log()
    server.inject("leads", InvalidJson(), page=1, times=1000)

    result = run_sync()

    assert not result.success
    assert _step_retries(result) == 2  # transient: Dagster's RetryPolicy tries again
    assert len(_attempts(server, "leads", 1)) == 9  # 3 step attempts x 3 request attempts
    message = step_failure(result)
    assert f"leads: GET {server.base_url}leads?updated_after=" in message
    assert "answered 200 with a body that is not valid JSON (69 bytes" in message
    assert set(query(warehouse, select_declared(LEADS))) == before
