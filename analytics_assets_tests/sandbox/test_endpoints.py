"""The endpoints beyond the seed's over real HTTP: per-campaign children, windows, lookups."""

from __future__ import annotations

import http.client
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from analytics_assets.sandbox import RelativeNextPage, SandboxConfig, SandboxServer, Status
from analytics_assets_tests.sandbox.helpers import KEY, enrolled, get, ids, served, walk

END = date(2026, 11, 20)  # activity_end: activity on 2026-10-21 .. 2026-11-19
FIRST = date(2026, 10, 21)
CHILDREN = {"campaign_leads": "leads", "replies": "replies"}  # resource -> path suffix


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(activity_end=END)) as server:
        yield server


@pytest.fixture(scope="module")
def token_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(activity_end=END, page_mode="token")) as server:
        yield server


def child(resource: str, campaign_id: str) -> str:
    return f"campaigns/{campaign_id}/{CHILDREN[resource]}"


def walk_children(
    session: requests.Session, server: SandboxServer, resource: str, **params: str
) -> dict[str, list[dict[str, Any]]]:
    """Every campaign's walk of ``resource``: campaign id -> its records, in campaign order."""
    return {
        campaign["id"]: served(
            walk(session, server, child(resource, campaign["id"]), **params), resource
        )
        for campaign in server.records("campaigns")
    }


def at(records: list[dict[str, Any]], column: str, moment: str) -> list[str]:
    """Ids of the records whose ``column`` is exactly ``moment``."""
    return [record["id"] for record in records if record[column] == moment]


# -- per-campaign children ---------------------------------------------------------------------


@pytest.mark.parametrize("resource", list(CHILDREN))
def test_each_campaign_serves_its_own_children(
    session: requests.Session, sandbox: SandboxServer, resource: str
) -> None:
    walked = walk_children(session, sandbox, resource)
    for campaign_id, records in walked.items():
        assert records == sandbox.records(resource, parent=campaign_id)
        assert {record["campaign_id"] for record in records} <= {campaign_id}
    assert [r for records in walked.values() for r in records] == sandbox.records(resource)


def test_campaign_leads_embed_the_lead_as_leads_serves_it(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    leads = {lead["id"]: lead for lead in served(walk(session, sandbox, "leads"), "leads")}
    rows = sandbox.records("campaign_leads")
    assert all(row["lead"] == leads[row["lead"]["id"]] for row in rows)
    pairs = [(row["campaign_id"], row["lead"]["id"]) for row in rows]
    assert len(set(pairs)) == len(pairs) == 3000
    sizes = list(enrolled(sandbox).values())
    assert sizes[0] > 500 and sum(size > 100 for size in sizes) >= 3 and sizes[-1] == 0


def test_a_campaign_with_many_leads_pages_them_with_the_campaign_in_next_page(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    busiest, size = next(iter(enrolled(sandbox).items()))
    bodies = walk(session, sandbox, child("campaign_leads", busiest))
    assert [len(body["campaign_leads"]) for body in bodies] == [100] * (size // 100) + [size % 100]
    assert bodies[0]["next_page"] == f"{sandbox.base_url}campaigns/{busiest}/leads?page=2"
    assert ids(bodies, "campaign_leads") == [
        r["id"] for r in sandbox.records("campaign_leads", busiest)
    ]


def test_token_mode_pages_children_too(
    session: requests.Session, token_sandbox: SandboxServer
) -> None:
    busiest = next(iter(enrolled(token_sandbox)))
    bodies = walk(session, token_sandbox, child("campaign_leads", busiest))
    assert len(bodies) > 2 and not bodies[0]["next_page"].startswith("http")
    assert served(bodies, "campaign_leads") == token_sandbox.records("campaign_leads", busiest)


def test_a_campaign_without_leads_answers_one_empty_page(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    empty = [cid for cid, size in enrolled(sandbox).items() if size == 0]
    assert empty
    body = get(session, sandbox, child("campaign_leads", empty[0])).json()
    assert body == {
        "status": "success",
        "errors": [],
        "has_more": False,
        "next_page": None,
        "campaign_leads": [],
    }


@pytest.mark.parametrize("resource", list(CHILDREN))
def test_an_unknown_campaign_is_404_with_the_error_envelope(
    session: requests.Session, sandbox: SandboxServer, resource: str
) -> None:
    sandbox.clear_log()
    response = get(session, sandbox, child(resource, "c_nope"), page="2")
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "error": {"reason": "not_found", "message": "The campaign 'c_nope' could not be found."},
    }
    [entry] = sandbox.request_log
    assert (entry.resource, entry.parent, entry.page, entry.status) == (
        resource,
        "c_nope",
        None,
        404,
    )


@pytest.mark.parametrize(
    "path",
    [
        "campaign_leads",
        "replies",
        "campaigns/{cid}",
        "campaigns/{cid}/leads/l_1",
        "campaigns//leads",
    ],
)
def test_paths_that_are_not_endpoints_are_404(
    session: requests.Session, sandbox: SandboxServer, path: str
) -> None:
    cid = sandbox.records("campaigns")[0]["id"]
    response = get(session, sandbox, path.format(cid=cid))
    assert response.status_code == 404
    assert response.json()["error"]["reason"] == "not_found"


# -- flat endpoints ----------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["lead_fields", "lead_statuses"])
def test_unpaginated_lookups_answer_the_envelope_and_ignore_page(
    session: requests.Session, sandbox: SandboxServer, resource: str
) -> None:
    expected = {
        "status": "success",
        "errors": [],
        "has_more": False,
        "next_page": None,
        resource: sandbox.records(resource),
    }
    assert get(session, sandbox, resource).json() == expected
    assert get(session, sandbox, resource, page="2").json() == expected


def test_dnc_domains_take_two_pages(session: requests.Session, sandbox: SandboxServer) -> None:
    bodies = walk(session, sandbox, "dnc_domains")
    assert [len(body["dnc_domains"]) for body in bodies] == [100, 50]
    assert served(bodies, "dnc_domains") == sandbox.records("dnc_domains")


# -- time windows ------------------------------------------------------------------------------


def test_events_window_excludes_both_ends(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    events = sandbox.records("events")
    start, end = "2026-10-24T00:00:00.000Z", "2026-10-27T00:00:00.000Z"
    on_start, on_end = at(events, "created_at", start), at(events, "created_at", end)
    last_ms = at(events, "created_at", "2026-10-25T23:59:59.999Z")
    assert on_start and on_end and last_ms
    bodies = walk(
        session, sandbox, "events", start_at="2026-10-24T00:00:00Z", end_at="2026-10-27T00:00:00Z"
    )
    got = ids(bodies, "events")
    assert got == [e["id"] for e in events if start < e["created_at"] < end]
    assert len(bodies) > 1  # the filtered pages carry the filters
    assert set(last_ms) <= set(got) and not set(got) & {*on_start, *on_end}


def test_replies_window_includes_both_ends(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    replies = sandbox.records("replies")
    start, end = "2026-10-24T00:00:00.000Z", "2026-10-27T00:00:00.000Z"
    edges = {*at(replies, "sent_at", start), *at(replies, "sent_at", end)}
    assert at(replies, "sent_at", start) and at(replies, "sent_at", end)
    walked = walk_children(session, sandbox, "replies", start_at=start, end_at=end)
    got = [r["id"] for records in walked.values() for r in records]
    assert got == [r["id"] for r in replies if r["sent_at"] and start <= r["sent_at"] <= end]
    assert edges <= set(got)


def test_whole_activity_range_edges(session: requests.Session, sandbox: SandboxServer) -> None:
    """The first midnight and midnight of activity_end: in for replies, out for events."""
    first, end = "2026-10-21T00:00:00.000Z", "2026-11-20T00:00:00.000Z"
    events, replies = sandbox.records("events"), sandbox.records("replies")
    assert at(events, "created_at", first) and at(events, "created_at", end)
    event_ids = set(ids(walk(session, sandbox, "events", start_at=first, end_at=end), "events"))
    assert event_ids == {e["id"] for e in events if first < e["created_at"] < end}
    walked = walk_children(session, sandbox, "replies", start_at=first, end_at=end)
    reply_ids = {r["id"] for records in walked.values() for r in records}
    assert {*at(replies, "sent_at", first), *at(replies, "sent_at", end)} <= reply_ids
    nulls = {r["id"] for r in replies if r["sent_at"] is None}
    assert nulls and not nulls & reply_ids  # a null sent_at matches no window
    assert len(reply_ids) == len(replies) - len(nulls)


@pytest.mark.parametrize(
    "start_at",
    [
        "2026-10-24T00:00:00Z",
        "2026-10-24T00:00:00.000Z",
        "2026-10-24T00:00:00.000000+00:00",
        "2026-10-24T02:00:00+02:00",
        "2026-10-23T19:00:00-05:00",
        "2026-10-24T00:00:00",
    ],
)
def test_timestamps_parse_in_any_iso_8601_form(
    session: requests.Session, sandbox: SandboxServer, start_at: str
) -> None:
    events = sandbox.records("events")
    got = ids(walk(session, sandbox, "events", start_at=start_at), "events")
    assert got == [e["id"] for e in events if e["created_at"] > "2026-10-24T00:00:00.000Z"]


def test_one_bound_and_fractional_seconds(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    events = sandbox.records("events")
    before = ids(walk(session, sandbox, "events", end_at="2026-10-24T00:00:00.001Z"), "events")
    assert before == [e["id"] for e in events if e["created_at"] <= "2026-10-24T00:00:00.000Z"]
    assert set(at(events, "created_at", "2026-10-24T00:00:00.000Z")) <= set(before)


def test_token_mode_carries_the_filters_in_the_cursor(
    session: requests.Session, token_sandbox: SandboxServer
) -> None:
    events = token_sandbox.records("events")
    bodies = walk(session, token_sandbox, "events", start_at="2026-11-01T00:00:00Z")
    assert len(bodies) > 1
    assert ids(bodies, "events") == [
        e["id"] for e in events if e["created_at"] > "2026-11-01T00:00:00.000Z"
    ]


@pytest.mark.parametrize("param", ["start_at", "end_at"])
@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01T00:00:00Z", "", "1719792000"])
def test_a_bad_timestamp_is_400_bad_params(
    session: requests.Session, sandbox: SandboxServer, param: str, raw: str
) -> None:
    cid = sandbox.records("campaigns")[0]["id"]
    for path in ("events", child("replies", cid)):
        response = get(session, sandbox, path, **{param: raw})
        assert response.status_code == 400
        assert response.json()["status"] == "error"
        assert response.json()["error"]["reason"] == "bad_params"
        assert param in response.json()["error"]["message"]


def test_records_in_days_is_half_open_in_utc_days(sandbox: SandboxServer) -> None:
    assert sandbox.activity_days == (FIRST, END)
    last = END - timedelta(days=1)
    on_last = sandbox.records_in_days("events", last, END)
    assert on_last and all(e["created_at"].startswith("2026-11-19T") for e in on_last)
    assert at(on_last, "created_at", "2026-11-19T23:59:59.999Z")
    after = sandbox.records_in_days("events", END, END + timedelta(days=1))
    assert after and {e["created_at"] for e in after} == {"2026-11-20T00:00:00.000Z"}
    whole = sandbox.records_in_days("events", FIRST, END)
    assert len(whole) + len(after) == len(sandbox.records("events"))
    days = [
        sandbox.records_in_days("replies", FIRST + timedelta(d), FIRST + timedelta(d + 1))
        for d in range(30)
    ]
    assert sum(map(len, days)) == len(sandbox.records_in_days("replies", FIRST, END))
    with pytest.raises(ValueError, match="window"):
        sandbox.records_in_days("leads", FIRST, END)


# -- faults, rate limit and the log on children ------------------------------------------------


def test_a_fault_hits_the_page_within_a_campaigns_sequence(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.clear_faults()
    busiest, second = list(enrolled(sandbox))[:2]
    sandbox.inject("campaign_leads", Status(503), page=2)
    assert get(session, sandbox, child("campaign_leads", busiest)).status_code == 200
    assert get(session, sandbox, child("campaign_leads", second), page="2").status_code == 503
    assert get(session, sandbox, child("campaign_leads", second), page="2").status_code == 200
    # parent= narrows it to one campaign.
    sandbox.inject("campaign_leads", Status(503), page=2, parent=second)
    assert get(session, sandbox, child("campaign_leads", busiest), page="2").status_code == 200
    assert get(session, sandbox, child("campaign_leads", second), page="2").status_code == 503
    # A link-making fault keeps the campaign in the path.
    sandbox.inject("campaign_leads", RelativeNextPage(), parent=busiest)
    body = get(session, sandbox, child("campaign_leads", busiest)).json()
    assert body["next_page"] == f"/v1/campaigns/{busiest}/leads?page=2"
    assert sandbox.pending_faults == []
    with pytest.raises(ValueError, match="per campaign"):
        sandbox.inject("events", Status(503), parent=busiest)


def test_an_unknown_campaign_consumes_no_fault(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.clear_faults()
    sandbox.inject("replies", Status(503))
    assert get(session, sandbox, child("replies", "c_nope")).status_code == 404
    assert len(sandbox.pending_faults) == 1
    sandbox.clear_faults()


def test_the_log_counts_requests_per_campaign(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.clear_log()
    walked = {cid: walk(session, sandbox, child("replies", cid)) for cid in enrolled(sandbox)}
    log = [entry for entry in sandbox.request_log if entry.resource == "replies"]
    assert Counter(entry.parent for entry in log) == {
        cid: len(bodies) for cid, bodies in walked.items()
    }
    assert max(len(bodies) for bodies in walked.values()) > 1
    paged = [entry for entry in log if entry.query]
    assert paged and all(entry.path == f"/v1/campaigns/{entry.parent}/replies" for entry in paged)
    assert {entry.query["page"] for entry in paged} >= {"2"}


def test_the_rate_limit_counts_child_requests(session: requests.Session) -> None:
    config = SandboxConfig(users=3, leads=50, campaigns=3, rate_limit=3, activity_end=END)
    with SandboxServer(config) as server:
        cid = next(iter(enrolled(server)))
        statuses = [get(session, server, child("replies", cid)).status_code for _ in range(2)]
        statuses.append(get(session, server, child("campaign_leads", "c_nope")).status_code)
        statuses.append(get(session, server, child("campaign_leads", cid)).status_code)
        assert statuses == [200, 200, 404, 429]


# -- determinism -------------------------------------------------------------------------------


def page_bytes(server: SandboxServer, paths: list[str]) -> list[bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        bodies = []
        for path in paths:
            connection.request("GET", f"/v1/{path}", headers={"x-api-key": KEY})
            response = connection.getresponse()
            assert response.status == 200
            bodies.append(response.read())
        return bodies
    finally:
        connection.close()


def test_same_seed_and_activity_end_same_bytes() -> None:
    # Token mode: url mode's next_page holds the port, which differs.
    configs = [
        SandboxConfig(leads=300, page_mode="token", activity_end=end)
        for end in (END, END, date(2026, 1, 1))
    ]
    with (
        SandboxServer(configs[0]) as a,
        SandboxServer(configs[1]) as b,
        SandboxServer(configs[2]) as c,
    ):
        cid = next(iter(enrolled(a)))
        paths = [
            "events?page=2",
            f"{child('campaign_leads', cid)}?page=2",
            f"{child('replies', cid)}",
            "events?start_at=2026-11-01T00:00:00Z",
            "tags",
        ]
        assert page_bytes(a, paths) == page_bytes(b, paths)
        assert a.records("campaign_leads") == c.records("campaign_leads")
        shifted = c.records("events")
        assert [e["id"] for e in shifted] == [e["id"] for e in a.records("events")]
        assert all(e["created_at"] < "2026-01-01T00:00:00.001Z" for e in shifted)
        assert c.activity_days == (date(2025, 12, 2), date(2026, 1, 1))
