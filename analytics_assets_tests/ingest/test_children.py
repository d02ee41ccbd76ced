"""Per-campaign reads (dlt child resources of campaigns): a campaign that vanished mid-sync is
skipped with a warning, a missing endpoint fails, a campaign served twice is named."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest
import requests

from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.sandbox import (
    DuplicateRecord,
    NextPageElsewhere,
    PatchRecord,
    SandboxServer,
    Status,
)
from analytics_assets.schema import CAMPAIGN_LEADS
from analytics_assets_tests.conftest import Serve, query, run_sync, step_failure
from analytics_assets_tests.expected import loaded_rows, records_as_rows, select_declared


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def loaded(warehouse: Path) -> set[tuple]:
    return loaded_rows(CAMPAIGN_LEADS, query(warehouse, select_declared(CAMPAIGN_LEADS)))


def test_a_campaign_deleted_mid_sync_is_skipped_with_a_warning(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve()
    gone = next(
        c["id"] for c in server.records("campaigns") if server.records("campaign_leads", c["id"])
    )
    server.delete_after_serving("campaigns", gone)

    result = run_sync(instance)

    assert result.success, step_failure(result)
    assert gone not in {r["campaign_id"] for r in server.records("campaign_leads")}
    assert loaded(warehouse) == records_as_rows(server.records("campaign_leads"), CAMPAIGN_LEADS)
    warnings = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level == logging.WARNING
    ]
    assert [w for w in warnings if "404" in w] == [
        f"campaign_leads: GET {server.base_url}campaigns/{gone}/leads answered 404 "
        f"({_not_found(server, gone)}): the campaigns record was deleted after it "
        "was listed; its campaign_leads are skipped in this run"
    ]
    materialization = instance.get_latest_materialization_event(raw_asset_key(CAMPAIGN_LEADS))
    metadata = materialization.asset_materialization.metadata
    assert metadata["parents_gone"].value == 1
    assert metadata["read_complete"].value is True


def test_every_campaign_answering_404_fails_instead_of_an_empty_table(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(campaigns=3)
    server.inject("campaign_leads", Status(404), times=100)

    result = run_sync(instance)

    assert not result.success
    message = step_failure(result)
    assert "campaign_leads: all 3 per-parent reads answered 404" in message
    assert "ANALYTICS_API_BASE_URL" in message


def _not_found(server: SandboxServer, campaign: str) -> str:
    """The sandbox's 404 envelope for ``campaign``, as the client quotes it."""
    response = requests.get(
        f"{server.base_url}campaigns/{campaign}/leads",
        headers={server.config.key_header: server.config.api_key},
        timeout=10,
    )
    assert response.status_code == 404
    error = response.json()["error"]
    return f"{error['reason']}: {error['message']}"


def test_a_campaign_served_twice_reads_its_leads_twice_and_both_checks_name_it(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(campaigns=3, table_counts={"campaign_leads": 30})
    twice = server.served_record("campaigns", 1, 0)["id"]
    server.inject("campaigns", DuplicateRecord(), page=1)  # the first campaign, served again

    result = run_sync(instance)

    assert not result.success  # blocking primary_key checks failed
    assert loaded(warehouse) == records_as_rows(server.records("campaign_leads"), CAMPAIGN_LEADS)
    asked = [e.parent for e in server.request_log if e.resource == "campaign_leads"]
    assert sorted(asked) == sorted([c["id"] for c in server.records("campaigns")] + [twice])
    failed = {
        (e.asset_key.path[-1], e.check_name): e.metadata["sample_ids"].value
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    assert failed == {
        ("campaigns", "primary_key"): [twice],
        ("campaign_leads", "primary_key"): sorted(
            r["id"] for r in server.records("campaign_leads", twice)
        )[:10],
    }


def test_a_next_page_on_another_campaign_fails_instead_of_loading_its_leads(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(campaigns=3, table_counts={"campaign_leads": 400})
    campaigns = [c["id"] for c in server.records("campaigns")]
    paged = next(c for c in campaigns if len(server.records("campaign_leads", c)) > 100)
    other = next(c for c in campaigns if c != paged)
    elsewhere = f"/v1/campaigns/{other}/leads"
    server.inject("campaign_leads", NextPageElsewhere(elsewhere), page=1, parent=paged)

    result = run_sync(instance)

    assert not result.success
    message = step_failure(result)
    assert f"campaign_leads: GET {server.base_url}campaigns/{paged}/leads answered next_page" in (
        message
    )
    assert f"points at another endpoint ({elsewhere}, not /v1/campaigns/{paged}/leads)" in message
    assert query(
        warehouse,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'campaign_leads'",
    ) == [(0,)]  # nothing was loaded


def test_a_campaign_set_aside_leaves_its_leads_unread_and_says_so(
    serve: Serve, warehouse: Path, instance: dg.DagsterInstance
) -> None:
    server = serve(campaigns=3, table_counts={"campaign_leads": 30})
    bad = server.served_record("campaigns", 1, 1)["id"]
    server.inject("campaigns", PatchRecord(1, ("name",), {"en": "x"}), page=1)

    result = run_sync(instance)

    assert not result.success  # campaigns: rejected_records (blocking) names it
    kept = [r for r in server.records("campaign_leads") if r["campaign_id"] != bad]
    assert loaded(warehouse) == records_as_rows(kept, CAMPAIGN_LEADS)
    metadata = instance.get_latest_materialization_event(
        raw_asset_key(CAMPAIGN_LEADS)
    ).asset_materialization.metadata
    assert metadata["read_complete"].value is False
    assert metadata["incomplete_reasons"].value == (
        f"1 campaigns record(s) ({bad}) were set aside in rejected_records, so their "
        "campaign_leads were not read"
    )
    assert [e.parent for e in server.request_log if e.resource == "campaign_leads"].count(bad) == 0
