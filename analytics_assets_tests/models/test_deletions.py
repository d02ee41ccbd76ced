"""Deletions reconciled: records the API no longer returns are flagged, and the models drop them.

A table read in full (every sync: users, campaigns, campaign_leads, the lookups; a full
refresh: leads too) flags its rows that the read did not return with ``_deleted_at``, but only
after a read known complete. Expected values come from the sandbox's records.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from analytics_assets.automation import FULL_REFRESH_CONFIG
from analytics_assets.sandbox import (
    EndsEarly,
    PatchRecord,
    Redirect,
    RepeatedPage,
    SandboxConfig,
    SandboxServer,
)
from analytics_assets.schema import DELETED_AT, SYNC_TABLES
from analytics_assets_tests.conftest import (
    TEST_KEY,
    Serve,
    materialization_metadata,
    query,
    run_sync,
    step_failure,
    use_api,
)

SMALL = {"users": 6, "leads": 250, "campaigns": 8, "table_counts": {"campaign_leads": 300}}


def full_refresh() -> dg.ExecuteInProcessResult:
    return run_sync(run_config=FULL_REFRESH_CONFIG)


def flags(warehouse: Path, table: str) -> dict[str, Any]:
    """id -> _deleted_at of every row of the raw ``table``."""
    rows = query(warehouse, f"SELECT id, {DELETED_AT} FROM analytics_api.{table}")
    return dict(rows)


def flagged(warehouse: Path, table: str) -> set[str]:
    return {row_id for row_id, at in flags(warehouse, table).items() if at is not None}


def metadata(result: dg.ExecuteInProcessResult, table: str) -> dict[str, Any]:
    return materialization_metadata(result)[dg.AssetKey(["analytics_api", table])]


def leads_owned(warehouse: Path) -> dict[str, int]:
    return dict(
        query(warehouse, "SELECT user_id, leads_owned FROM analytics_models.owner_pipeline")
    )


def expected_leads_owned(server: SandboxServer) -> dict[str, int]:
    owners = Counter(lead["owner_id"] for lead in server.records("leads"))
    return {user["id"]: owners.get(user["id"], 0) for user in server.records("users")}


def enrolled(warehouse: Path) -> dict[str, int]:
    return dict(
        query(warehouse, "SELECT campaign_id, leads_enrolled FROM analytics_models.campaign_funnel")
    )


def expected_enrolled(server: SandboxServer) -> dict[str, int]:
    counts = Counter(row["campaign_id"] for row in server.records("campaign_leads"))
    return {
        campaign["id"]: counts.get(campaign["id"], 0) for campaign in server.records("campaigns")
    }


def _enrolled_lead(server: SandboxServer) -> tuple[str, set[str]]:
    """A lead with an owner and at least one enrollment, and the ids of its enrollments."""
    enrollments: dict[str, set[str]] = {}
    for row in server.records("campaign_leads"):
        enrollments.setdefault(row["lead"]["id"], set()).add(row["id"])
    lead = next(
        lead for lead in server.records("leads") if lead["owner_id"] and lead["id"] in enrollments
    )
    return lead["id"], enrollments[lead["id"]]


def test_a_deleted_lead_stays_after_an_incremental_sync_and_leaves_after_a_full_refresh(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(**SMALL)
    assert run_sync().success
    before = expected_leads_owned(server)
    lead, enrollments = _enrolled_lead(server)
    server.delete("leads", lead)  # its enrollments end with it

    incremental = run_sync()

    assert incremental.success, step_failure(incremental)
    assert flagged(warehouse, "leads") == set()  # an incremental read cannot tell
    assert leads_owned(warehouse) == before
    # campaign_leads is read in full by every sync: the enrollments are gone already.
    assert flagged(warehouse, "campaign_leads") == enrollments
    assert enrolled(warehouse) == expected_enrolled(server)
    assert metadata(incremental, "leads")["deletions_reconciled"] is False
    assert metadata(incremental, "campaign_leads")["deleted_now"] == len(enrollments)

    refreshed = full_refresh()

    assert refreshed.success, step_failure(refreshed)
    assert flagged(warehouse, "leads") == {lead}
    assert len(flags(warehouse, "leads")) == len(server.records("leads")) + 1  # kept, flagged
    assert leads_owned(warehouse) == expected_leads_owned(server)
    assert leads_owned(warehouse) != before
    assert enrolled(warehouse) == expected_enrolled(server)
    leads = metadata(refreshed, "leads")
    assert (leads["deletions_reconciled"], leads["deleted_now"], leads["deleted_rows"]) == (
        True,
        1,
        1,
    )
    again = full_refresh()  # nothing new is gone: nothing flagged anew, the flag time kept
    assert again.success, step_failure(again)
    assert metadata(again, "leads")["deleted_now"] == 0
    assert flagged(warehouse, "leads") == {lead}


def test_a_deleted_campaign_leaves_the_models_with_its_enrollments_on_the_next_sync(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(**SMALL)
    assert run_sync().success
    campaign = max(expected_enrolled(server).items(), key=lambda item: item[1])[0]
    server.delete("campaigns", campaign)

    result = run_sync()

    assert result.success, step_failure(result)
    assert flagged(warehouse, "campaigns") == {campaign}
    performance = query(warehouse, "SELECT campaign_id FROM analytics_models.campaign_performance")
    assert {row[0] for row in performance} == {c["id"] for c in server.records("campaigns")}
    assert enrolled(warehouse) == expected_enrolled(server)
    assert campaign not in enrolled(warehouse)


def test_a_record_back_in_the_api_is_live_again(warehouse: Path) -> None:
    config = SandboxConfig(api_key=TEST_KEY, **SMALL)  # type: ignore[arg-type]
    with SandboxServer(config) as first:
        use_api(first)
        assert run_sync().success
        tag = first.records("tags")[0]["id"]
        first.delete("tags", tag)
        assert run_sync().success
        assert flagged(warehouse, "tags") == {tag}
    with SandboxServer(config) as second:  # the same data: the tag is back
        use_api(second)
        result = run_sync()

    assert result.success, step_failure(result)
    assert flagged(warehouse, "tags") == set()
    assert set(flags(warehouse, "tags")) == {row["id"] for row in second.records("tags")}


def test_an_endpoint_answering_an_empty_list_flags_nothing_until_a_run_accepts_it(
    serve: Serve, warehouse: Path
) -> None:
    """An empty (or cut) list the API calls complete looks just like a mass deletion: more
    than half a table at once is held back, with a warning, until a run accepts it."""
    server = serve(**SMALL)
    assert run_sync().success
    domains = {row["id"] for row in server.records("dnc_domains")}
    for domain in domains:
        server.delete("dnc_domains", domain)

    instance = dg.DagsterInstance.ephemeral()
    held = run_sync(instance)

    assert held.success, step_failure(held)
    assert flagged(warehouse, "dnc_domains") == set()
    domains_metadata = metadata(held, "dnc_domains")
    assert (domains_metadata["deletions_reconciled"], domains_metadata["deletions_held_back"]) == (
        False,
        len(domains),
    )
    warnings = [
        entry.user_message
        for entry in instance.all_logs(held.run_id)
        if entry.level == logging.WARNING and "were NOT marked deleted" in entry.user_message
    ]
    assert len(warnings) == 1 and f"dnc_domains: {len(domains)} row(s)" in warnings[0]

    accepted = run_sync(
        run_config={"ops": {"analytics_api_raw": {"config": {"max_deleted_share": 1.0}}}}
    )

    assert accepted.success, step_failure(accepted)
    assert flagged(warehouse, "dnc_domains") == domains
    assert metadata(accepted, "dnc_domains")["deleted_now"] == len(domains)
    assert flagged(warehouse, "tags") == set()


def test_a_full_refresh_answered_by_an_empty_list_once_flags_no_lead(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(**SMALL)
    assert full_refresh().success
    owned = expected_leads_owned(server)
    server.inject("leads", EndsEarly(empty=True), page=1)  # {"leads": [], "has_more": false}

    result = full_refresh()

    assert result.success, step_failure(result)
    assert metadata(result, "leads")["deletions_held_back"] == len(server.records("leads"))
    assert flagged(warehouse, "leads") == set()
    assert leads_owned(warehouse) == owned


def test_a_full_refresh_not_known_complete_flags_nothing_in_that_table(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(**SMALL)
    assert run_sync().success
    lead, _ = _enrolled_lead(server)
    server.delete("leads", lead)
    tag = server.records("tags")[1]["id"]
    server.delete("tags", tag)
    server.inject("leads", RepeatedPage(), page=2)  # a page of leads never served
    server.inject("tags", PatchRecord(0, "id", remove=True))  # a tag set aside

    result = full_refresh()

    assert flagged(warehouse, "leads") == set()
    assert flagged(warehouse, "tags") == set()
    assert metadata(result, "leads")["deletions_reconciled"] is False
    assert metadata(result, "tags")["deletions_reconciled"] is False
    assert metadata(result, "users")["deletions_reconciled"] is True
    assert leads_owned(warehouse) == {
        user: count + (1 if user == _owner(server, lead, warehouse) else 0)
        for user, count in expected_leads_owned(server).items()
    }

    server.clear_faults()
    healed = full_refresh()

    assert healed.success, step_failure(healed)
    assert flagged(warehouse, "leads") == {lead}
    assert flagged(warehouse, "tags") == {tag}


def _owner(server: SandboxServer, lead: str, warehouse: Path) -> str:
    (owner,) = query(warehouse, f"SELECT owner_id FROM analytics_api.leads WHERE id = '{lead}'")
    return owner[0]


@pytest.mark.parametrize("table", [table.name for table in SYNC_TABLES])
def test_every_table_read_in_full_documents_its_deleted_at_column(table: str) -> None:
    from analytics_assets.ingest.specs import raw_asset_spec
    from analytics_assets.schema import TABLES_BY_NAME

    spec = raw_asset_spec(TABLES_BY_NAME[table], destination="duckdb")
    columns = {c.name: c for c in spec.metadata["dagster/column_schema"].columns}
    assert columns[DELETED_AT].type == "timestamp"


def test_a_campaign_gone_mid_sync_flags_its_enrollments_at_the_next_sync_only(
    serve: Serve, warehouse: Path
) -> None:
    """Its leads answer 404 after the campaigns page listed it: that may be a passing error, so
    that read flags nothing in campaign_leads; the next sync no longer lists the campaign."""
    server = serve(**SMALL)
    assert run_sync().success
    campaign = max(expected_enrolled(server).items(), key=lambda item: item[1])[0]
    enrollments = {
        row["id"] for row in server.records("campaign_leads") if row["campaign_id"] == campaign
    }
    server.delete_after_serving("campaigns", campaign)

    during = run_sync()

    assert during.success, step_failure(during)
    assert metadata(during, "campaign_leads")["parents_gone"] == 1
    assert metadata(during, "campaign_leads")["deletions_reconciled"] is False
    assert flagged(warehouse, "campaign_leads") == set()
    assert flagged(warehouse, "campaigns") == set()

    after = run_sync()

    assert after.success, step_failure(after)
    assert flagged(warehouse, "campaigns") == {campaign}
    assert flagged(warehouse, "campaign_leads") == enrollments
    assert enrolled(warehouse) == expected_enrolled(server)


def test_a_redirect_to_another_page_makes_the_read_incomplete_and_flags_nothing(
    serve: Serve, warehouse: Path
) -> None:
    """A proxy answers leads page 2 with a redirect to page 3: page 2 is never served, and the
    read (which ends normally) must not count as complete."""
    server = serve(**SMALL)
    assert full_refresh().success
    server.inject("leads", Redirect(server.base_url.rstrip("/") + "/leads?page=3"), page=2)

    result = full_refresh()

    leads = metadata(result, "leads")
    assert (leads["read_complete"], leads["deletions_reconciled"]) == (False, False)
    assert "redirected to" in leads["incomplete_reasons"]
    assert flagged(warehouse, "leads") == set()
    assert leads_owned(warehouse) == expected_leads_owned(server)


@pytest.mark.parametrize("fault", ["repeated", "redirect"])
def test_a_campaigns_read_not_known_complete_flags_no_enrollment(
    serve: Serve, warehouse: Path, fault: str
) -> None:
    """Campaigns on two pages, page 2 never served: the enrollments of its campaigns were never
    asked for, so campaign_leads is not complete either and flags nothing."""
    server = serve(
        users=4, leads=60, campaigns=12, page_size=6, table_counts={"campaign_leads": 80}
    )
    assert run_sync().success
    base = server.base_url.rstrip("/")
    server.inject(
        "campaigns",
        RepeatedPage() if fault == "repeated" else Redirect(f"{base}/campaigns?page=3"),
        page=2,
    )

    result = run_sync()

    for table in ("campaigns", "campaign_leads"):
        assert metadata(result, table)["read_complete"] is False
        assert metadata(result, table)["deletions_reconciled"] is False
        assert flagged(warehouse, table) == set()
    assert sum(enrolled(warehouse).values()) == len(server.records("campaign_leads"))


def test_a_redirect_to_the_same_page_in_another_form_keeps_the_read_complete(
    serve: Serve, warehouse: Path
) -> None:
    """A gateway that spells out page=1 and adds a parameter serves the page asked for."""
    server = serve(**SMALL)
    base = server.base_url.rstrip("/")
    server.inject("users", Redirect(f"{base}/users/?lang=en&page=1"), page=1)

    result = run_sync()

    assert result.success, step_failure(result)
    users = metadata(result, "users")
    assert (users["read_complete"], users["deletions_reconciled"]) == (True, True)
    assert len(flags(warehouse, "users")) == len(server.records("users"))


@pytest.mark.parametrize("share", [1.5, -0.1, float("nan")])
def test_a_max_deleted_share_outside_0_to_1_fails_before_any_request(
    serve: Serve, share: float
) -> None:
    server = serve(**SMALL)

    result = run_sync(
        run_config={"ops": {"analytics_api_raw": {"config": {"max_deleted_share": share}}}}
    )

    assert not result.success
    assert "max_deleted_share (run config) must be within 0..1" in step_failure(result)
    assert server.request_log == []
