"""Records deleted or changed while serving: cascades, 404s, a campaign vanishing mid-sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests

from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.schema import TABLES, TABLES_BY_NAME
from analytics_assets_tests.sandbox.helpers import enrolled, get, ids, served, walk, walk_all

CONFIG = SandboxConfig(
    users=5,
    leads=300,
    campaigns=4,
    activity_end=date(2026, 11, 20),
    table_counts={"campaign_leads": 400, "replies": 80, "events": 50},
)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(CONFIG) as server:
        yield server


def assert_serves_its_records(session: requests.Session, server: SandboxServer) -> None:
    for table in TABLES:
        assert served(walk_all(session, server, table), table.name) == server.records(table.name)


def test_deleting_a_campaign_deletes_its_children_and_404s_them(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    busiest = next(iter(enrolled(sandbox)))
    replies = sandbox.records("replies", parent=busiest)
    assert replies and len(sandbox.records("campaign_leads", parent=busiest)) > 100

    assert sandbox.delete("campaigns", busiest) == ("campaigns", "campaign_leads", "replies")

    for path in (f"campaigns/{busiest}/leads", f"campaigns/{busiest}/replies"):
        response = get(session, sandbox, path)
        assert response.status_code == 404
        assert response.json()["error"]["reason"] == "not_found"
    assert busiest not in ids(walk(session, sandbox, "campaigns"), "campaigns")
    assert all(row["campaign_id"] != busiest for row in sandbox.records("campaign_leads"))
    assert not {r["id"] for r in replies} & {r["id"] for r in sandbox.records("replies")}
    assert_serves_its_records(session, sandbox)
    with pytest.raises(KeyError):
        sandbox.delete("campaigns", busiest)
    with pytest.raises(KeyError):
        sandbox.records("replies", parent=busiest)


def test_deleting_a_campaign_without_children(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    empty = [cid for cid, size in enrolled(sandbox).items() if size == 0][0]
    assert get(session, sandbox, f"campaigns/{empty}/leads").status_code == 200
    sandbox.delete("campaigns", empty)
    assert get(session, sandbox, f"campaigns/{empty}/leads").status_code == 404


def test_deleting_a_lead_ends_its_enrollments(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    counts: dict[str, int] = {}
    for row in sandbox.records("campaign_leads"):
        counts[row["lead"]["id"]] = counts.get(row["lead"]["id"], 0) + 1
    lead_id = max(counts, key=lambda i: counts[i])
    before = len(sandbox.records("campaign_leads"))
    replies = sandbox.records("replies")

    assert sandbox.delete("leads", lead_id) == ("leads", "campaign_leads")

    assert lead_id not in ids(walk(session, sandbox, "leads"), "leads")
    rows = served(walk_all(session, sandbox, TABLES_BY_NAME["campaign_leads"]), "campaign_leads")
    assert len(rows) == before - counts[lead_id]
    assert lead_id not in {row["lead"]["id"] for row in rows}
    assert sandbox.records("replies") == replies  # history stays
    assert_serves_its_records(session, sandbox)


def test_delete_validates(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="no resource"):
        sandbox.delete("nope", "x")
    with pytest.raises(KeyError):
        sandbox.delete("tags", "t_missing")
    with pytest.raises(KeyError):
        sandbox.delete_after_serving("campaigns", "c_missing")


def test_a_campaign_vanishes_between_its_page_and_its_children(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    campaigns = sandbox.records("campaigns")
    vanishing = campaigns[2]["id"]
    sandbox.delete_after_serving("campaigns", vanishing)
    # Other resources' pages do not trigger it.
    assert get(session, sandbox, f"campaigns/{vanishing}/leads").status_code == 200

    listed = ids([get(session, sandbox, "campaigns").json()], "campaigns")

    assert listed == [c["id"] for c in campaigns]  # the page still listed it
    assert get(session, sandbox, f"campaigns/{vanishing}/leads").status_code == 404
    assert get(session, sandbox, f"campaigns/{vanishing}/replies").status_code == 404
    assert vanishing not in ids([get(session, sandbox, "campaigns").json()], "campaigns")
    assert [entry.status for entry in sandbox.request_log][-3:] == [404, 404, 200]


def test_clear_faults_forgets_a_pending_vanish(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    cid = sandbox.records("campaigns")[0]["id"]
    sandbox.delete_after_serving("campaigns", cid)
    sandbox.clear_faults()
    get(session, sandbox, "campaigns")
    assert get(session, sandbox, f"campaigns/{cid}/leads").status_code == 200


def test_changed_leads_show_in_their_enrollments(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    changed = set(sandbox.change_leads(100))
    leads = {lead["id"]: lead for lead in served(walk(session, sandbox, "leads"), "leads")}
    rows = served(walk_all(session, sandbox, TABLES_BY_NAME["campaign_leads"]), "campaign_leads")
    hit = [row for row in rows if row["lead"]["id"] in changed]
    assert hit and all(row["lead"] == leads[row["lead"]["id"]] for row in rows)
    assert rows == sandbox.records("campaign_leads")
