"""One bad record never stops a sync: it is set aside, every good record loads, a check names it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from analytics_assets.sandbox import PatchRecord, ReplaceRecord, SandboxServer
from analytics_assets.schema import LEADS, SYNC_TABLES
from analytics_assets_tests.conftest import Serve, query, run_sync, step_failure
from analytics_assets_tests.expected import expected_rows, select_declared

PAGE, POSITION = 2, 7
DEEP: list = []
_level = DEEP
for _ in range(300):  # deeper than any writer nests (orjson's limit is 255)
    _level.append([])
    _level = _level[0]
BAD = {
    "missing_id": (PatchRecord(POSITION, ("id",), remove=True), "id is missing", False),
    "null_id": (PatchRecord(POSITION, ("id",), None), "id is null", False),
    "not_an_object": (
        ReplaceRecord(POSITION, "oops"),
        "the item is a string, not an object",
        False,
    ),
    "huge_integer": (
        PatchRecord(POSITION, ("sent_count",), 2**70),
        "sent_count is 1180591620717411303424, beyond 64-bit integers",
        True,
    ),
    "object_for_a_string": (
        PatchRecord(POSITION, ("status",), {"name": "replied"}),
        "status is an object; declared string",
        True,
    ),
    "list_for_a_string": (
        PatchRecord(POSITION, ("data", "city"), ["Paris", "Lyon"]),
        "data.city is a list; declared string",
        True,
    ),
    "null_required_object": (
        PatchRecord(POSITION, ("data",), None),
        "data is null or missing; declared a non-nullable object",
        True,
    ),
    "lone_surrogate": (
        PatchRecord(POSITION, ("status",), "\ud800"),
        "it cannot be written as JSON (str is not valid UTF-8: surrogates not allowed)",
        True,
    ),
    "key_colliding_with_a_column": (
        PatchRecord(POSITION, ("ID",), None),  # dlt names "ID" id: a null into the key
        "ID would load into the declared column 'id' as well",
        True,
    ),
    "nested_too_deep": (
        PatchRecord(POSITION, ("data", "deep"), DEEP),
        "it cannot be written as JSON (Recursion limit reached)",
        True,
    ),
    "undeclared_integer_just_beyond_int64": (
        PatchRecord(POSITION, ("score",), 2**63),
        "score is 9223372036854775808, beyond 64-bit integers",
        True,
    ),
    "undeclared_huge_integer": (
        PatchRecord(POSITION, ("data", "score"), -(2**64)),
        "data.score is -18446744073709551616, beyond 64-bit integers",
        True,
    ),
}


@pytest.fixture
def server(serve: Serve) -> SandboxServer:
    return serve(leads=500)


def _checks(result: dg.ExecuteInProcessResult, table: str) -> dict[str, Any]:
    return {
        e.asset_check_key.name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] == table
    }


def _served_json(server: SandboxServer, fault: Any) -> Any:
    """What the faulted page served at POSITION, rebuilt from the sandbox's record."""
    record = server.served_record("leads", PAGE, POSITION)
    if isinstance(fault, ReplaceRecord):
        return fault.value
    target = record
    for key in fault.path[:-1]:
        target = target[key]
    if fault.remove:
        del target[fault.path[-1]]
    else:
        target[fault.path[-1]] = fault.value
    return record


def _stored(text: str) -> str:
    """How text is kept: a lone surrogate (no database takes one) as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_lead_is_set_aside_and_everything_else_loads(
    server: SandboxServer, warehouse: Path, kind: str
) -> None:
    fault, reason, has_id = BAD[kind]
    victim = server.served_record("leads", PAGE, POSITION)["id"]
    served = _served_json(server, fault)
    server.inject("leads", fault, page=PAGE)

    result = run_sync()

    # The sync succeeds; the run fails on the blocking check alone, which keeps owner_pipeline
    # (it reads leads) from building.
    assert result.is_node_success("analytics_api_raw"), step_failure(result)
    assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)
    assert "analytics_api/leads: rejected_records" in step_failure(result)
    leads = {row[0] for row in query(warehouse, "SELECT id FROM analytics_api.leads")}
    assert leads == {record["id"] for record in server.records("leads")} - {victim}
    for table in SYNC_TABLES:
        if table is not LEADS:  # users and campaigns are refreshed as always
            assert set(query(warehouse, select_declared(table))) == expected_rows(server, table)
    rejected = query(
        warehouse,
        "SELECT run_id, resource, page_url, page, position, record_id, reason, raw_json "
        "FROM analytics_api.rejected_records",
    )
    assert rejected == [
        (
            result.run_id,
            "leads",
            f"{server.base_url}leads?page={PAGE}",
            PAGE,
            POSITION,
            victim if has_id else None,
            reason,
            _stored(json.dumps(served, ensure_ascii=False)),
        )
    ]
    check = _checks(result, "leads")["rejected_records"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["offending_rows"].value == 1
    name = victim if has_id else f"page {PAGE} position {POSITION}"
    assert check.metadata["sample_ids"].value == [name]
    assert check.metadata["reasons"].value == [f"{name}: {reason}"]
    for table in ("users", "campaigns"):
        assert _checks(result, table)["rejected_records"].passed


def test_the_next_clean_sync_loads_the_record_and_passes_every_check(
    server: SandboxServer, warehouse: Path
) -> None:
    fault, _, _ = BAD["null_required_object"]
    server.inject("leads", fault, page=PAGE)
    first = run_sync()
    assert first.is_node_success("analytics_api_raw")
    assert not _checks(first, "leads")["rejected_records"].passed
    leads_event = next(
        e for e in first.get_asset_materialization_events() if e.asset_key.path[-1] == "leads"
    )
    metadata = leads_event.event_specific_data.materialization.metadata
    assert metadata["read_complete"].value is False
    assert (
        "record(s) on page 2 could not be loaded as declared"
        in metadata["incomplete_reasons"].value
    )
    server.clear_log()

    second = run_sync()

    assert second.success, step_failure(second)
    # The first read was not complete, so it set no cursor: every lead is read again.
    lead_requests = [e.query for e in server.request_log if e.resource == "leads"]
    assert len(lead_requests) == 5 and all("updated_after" not in q for q in lead_requests)
    assert set(query(warehouse, select_declared(LEADS))) == expected_rows(server, LEADS)
    failed = [e.asset_check_key.name for e in second.get_asset_check_evaluations() if not e.passed]
    assert [name for name in failed if name != "schema_drift"] == []
