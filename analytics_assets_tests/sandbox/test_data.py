"""Generated data: derived from the schema declaration, deterministic, independent per table."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import date

import pytest

from analytics_assets.sandbox.data import DEFAULT_COUNTS, Dataset, generate
from analytics_assets.sandbox.fakes import LEAD_STATUSES
from analytics_assets.sandbox.related import EVENT_TYPES
from analytics_assets.schema import CAMPAIGNS, EVENTS, LEADS, TABLES, USERS, Field


def test_same_seed_same_data_and_tables_are_independent() -> None:
    counts = {"users": 10, "leads": 200, "campaigns": 5}
    first, again = generate(counts, seed=3), generate(counts, seed=3)
    assert first == again
    assert generate(counts, seed=4).records["leads"] != first.records["leads"]
    # More leads leave users and the first leads untouched.
    more = generate({**counts, "leads": 300}, seed=3)
    assert more.records["users"] == first.records["users"]
    assert more.records["leads"][:200] == first.records["leads"]


def test_a_field_added_to_the_schema_appears_in_the_data() -> None:
    extra = (
        Field("timezone", "string", True, "IANA time zone."),
        Field("seats", "integer", False, "Licensed seats."),
        Field("signed_up_at", "string", False, "Sign-up time.", format="date-time"),
        Field(
            "manager",
            "object",
            True,
            "The user's manager.",
            fields=(
                Field("id", "string", True, "Manager id.", references="users.id"),
                Field("email", "string", True, "Manager email.", format="email"),
            ),
        ),
    )
    users = dataclasses.replace(USERS, fields=(*USERS.fields, *extra))
    data = generate({"users": 60, "leads": 5, "campaigns": 2}, tables=(users, LEADS, CAMPAIGNS))
    rows = data.records["users"]
    assert all(list(row) == [f.name for f in users.fields] for row in rows)
    assert all(type(row["seats"]) is int and row["signed_up_at"].endswith("Z") for row in rows)
    assert {row["timezone"] is None for row in rows} == {True, False}
    by_id = {row["id"]: row for row in rows}
    # A self-reference points at an earlier row (the first row has none to point at).
    managers = [row["manager"] for row in rows[1:] if row["manager"] is not None]
    assert managers and all(m["email"] == by_id[m["id"]]["email"] for m in managers)


def test_tables_are_generated_after_the_tables_they_reference() -> None:
    data = generate({"users": 3, "leads": 20, "campaigns": 4}, tables=tuple(reversed(TABLES)))
    user_ids = {user["id"] for user in data.records["users"]}
    assert {lead["owner_id"] for lead in data.records["leads"]} <= user_ids
    assert len(data.updated_at["leads"]) == 20


END = date(2026, 11, 20)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(scope="module")
def data() -> Dataset:
    return generate(activity_end=END)


def test_new_tables_do_not_scale_with_leads() -> None:
    few, many = generate({"leads": 500}, activity_end=END), generate(activity_end=END)
    for name in ("campaign_leads", "replies", "events", "tags", "dnc_domains"):
        assert len(few.records[name]) == len(many.records[name]) == DEFAULT_COUNTS[name]


def test_same_seed_and_activity_end_same_data_other_end_other_times(data: Dataset) -> None:
    assert generate(activity_end=END) == data
    other = generate(activity_end=date(2025, 3, 1))
    for name in ("campaign_leads", "lead_statuses", "dnc_domains"):
        assert other.records[name] == data.records[name]
    strip = [{**e, "created_at": None} for e in data.records["events"]]
    assert [{**e, "created_at": None} for e in other.records["events"]] == strip
    assert other.records["events"] != data.records["events"]


def test_enrollments_are_unique_skewed_and_grouped_by_campaign(data: Dataset) -> None:
    campaigns = [c["id"] for c in data.records["campaigns"]]
    rows = data.records["campaign_leads"]
    pairs = [(row["campaign_id"], row["lead"]["id"]) for row in rows]
    assert len(set(pairs)) == len(pairs)
    order = [campaigns.index(campaign) for campaign, _ in pairs]
    assert order == sorted(order)
    sizes = Counter(campaign for campaign, _ in pairs)
    assert len(sizes) == len(campaigns) - 1  # one campaign enrolls nobody
    assert sum(size > 100 for size in sizes.values()) >= 3
    leads = {lead["id"]: lead for lead in data.records["leads"]}
    assert all(row["lead"] is leads[row["lead"]["id"]] for row in rows)  # the lead itself


def test_enrollments_run_out_with_few_leads() -> None:
    rows = generate({"campaigns": 3, "leads": 4}, activity_end=END).records["campaign_leads"]
    assert len(rows) == 2 * 4  # two campaigns (one stays empty) x every lead


def test_replies_belong_to_a_campaign_their_lead_is_enrolled_in(data: Dataset) -> None:
    enrolled = {(row["campaign_id"], row["lead"]["id"]) for row in data.records["campaign_leads"]}
    replies = data.records["replies"]
    assert all(r["campaign_id"] is not None for r in replies)
    with_lead = [r for r in replies if r["lead_id"] is not None]
    assert with_lead and all((r["campaign_id"], r["lead_id"]) in enrolled for r in with_lead)
    assert {r["sentiment"] for r in replies} == {"positive", "negative", "neutral", None}
    assert {r["kind"] for r in replies} == {"reply", "auto_reply"}
    for reply in replies:
        assert all("@" in email for email in reply["to_emails"] + reply["cc_emails"])
        assert reply["to_emails"] and isinstance(reply["cc_emails"], list)


def test_activity_spans_the_days_before_activity_end_with_edge_instants(data: Dataset) -> None:
    for name, column in (("events", "created_at"), ("replies", "sent_at")):
        stamps = [r[column] for r in data.records[name] if r[column] is not None]
        assert all(TIMESTAMP.fullmatch(stamp) for stamp in stamps)
        assert min(stamps) == "2026-10-21T00:00:00.000Z"  # the first midnight of the range
        assert max(stamps) == "2026-11-20T00:00:00.000Z"  # midnight of activity_end itself
        assert "2026-11-19T23:59:59.999Z" in stamps
        midnights = {s[:10] for s in stamps if s.endswith("T00:00:00.000Z")}
        last_ms = {s[:10] for s in stamps if s.endswith("T23:59:59.999Z")}
        assert len(midnights) >= 10 and len(last_ms) >= 10, name
        assert len({s[:10] for s in stamps}) == 31


def test_events_data_is_free_form_around_a_campaign_and_a_lead(data: Dataset) -> None:
    campaigns = {c["id"] for c in data.records["campaigns"]}
    leads = {lead["id"] for lead in data.records["leads"]}
    events = data.records["events"]
    assert {e["event_type"] for e in events} == set(EVENT_TYPES)
    for event in events:
        assert event["data"]["campaign_id"] in campaigns and event["data"]["lead_id"] in leads
    odd = [e["data"] for e in events if "x_legacy" in e["data"]]
    assert 0 < len(odd) < len(events) / 50
    assert any("url" in e["data"] for e in events) and any("subject" in e["data"] for e in events)


def test_lookups(data: Dataset) -> None:
    assert [s["name"] for s in data.records["lead_statuses"]] == list(LEAD_STATUSES)
    fields = data.records["lead_fields"]
    assert fields[0] == {**fields[0], "name": "first_name", "label": "First Name"}
    for name in ("tags", "dnc_domains", "lead_fields"):
        names = [row["name"] for row in data.records[name]]
        assert len(set(names)) == len(names), name


def test_timestamp_and_json_fields_added_to_the_schema_appear() -> None:
    extra = (
        Field("seen_at", "timestamp", True, "When."),
        Field("meta", "json", False, "Free-form."),
        Field("bcc_emails", "json", False, "Emails."),
    )
    events = dataclasses.replace(EVENTS, fields=(*EVENTS.fields, *extra))
    rows = generate({"events": 40}, tables=(events,), activity_end=END).records["events"]
    assert all(list(row) == [f.name for f in events.fields] for row in rows)
    assert all(row["seen_at"] is None or TIMESTAMP.fullmatch(row["seen_at"]) for row in rows)
    assert all(isinstance(row["meta"], dict) and "@" in row["bcc_emails"][0] for row in rows)
