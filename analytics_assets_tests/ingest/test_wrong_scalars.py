"""Scalars of the wrong JSON type: the Arrow path refuses their page and dlt's record path
takes it. No record is lost; what dlt cannot coerce fails a check, what it can is coerced.

Pinned as README "Asset checks" words it (values dlt can coerce load), so that a
change to either path that drops a record or swallows a variant column fails here.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from analytics_assets.sandbox import PatchRecord, SandboxServer
from analytics_assets.schema import LEADS
from analytics_assets_tests.conftest import Serve, query, run_sync
from analytics_assets_tests.expected import expected_rows, records_as_rows, select_declared

POSITION = 3


def _patched(server: SandboxServer, page: int, path: tuple[str, ...], value: object) -> dict:
    record = server.served_record("leads", page, POSITION)
    assert record is not None
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return record


def test_wrong_scalars_are_coerced_or_fail_column_types_and_no_lead_is_lost(
    serve: Serve, warehouse: Path
) -> None:
    server = serve(leads=300)
    faults = {
        1: (("bounced",), "true"),  # a string where a boolean is declared: dlt coerces it
        2: (("sent_count",), True),  # a boolean where an integer is: a variant column
        3: (("data", "first_name"), 5),  # an integer where a string is: dlt coerces it
    }
    served = {page: _patched(server, page, path, value) for page, (path, value) in faults.items()}
    for page, (path, value) in faults.items():
        server.inject("leads", PatchRecord(POSITION, path, value), page=page)

    result = run_sync()

    rows = set(query(warehouse, select_declared(LEADS)))
    untouched = expected_rows(server, LEADS) - records_as_rows(
        [server.served_record("leads", page, POSITION) for page in faults], LEADS
    )
    assert untouched <= rows and len(rows) == 300  # every lead, one row each
    coerced = {**served[1], "bounced": True}
    as_text = {**served[3], "data": {**served[3]["data"], "first_name": "5"}}
    in_variant = {**served[2], "sent_count": None}  # its value went to sent_count__v_bool
    assert rows - untouched == records_as_rows([coerced, as_text, in_variant], LEADS)
    variant = query(
        warehouse,
        "SELECT id, sent_count__v_bool FROM analytics_api.leads "
        "WHERE sent_count__v_bool IS NOT NULL",
    )
    assert variant == [(served[2]["id"], True)]
    failed = {
        (e.asset_key.path[-1], e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    }
    assert failed == {("leads", "column_types")}
    set_aside = query(
        warehouse,
        "SELECT table_name FROM information_schema.tables WHERE table_name = 'rejected_records'",
    )
    assert set_aside == []  # nothing was set aside: every one of them loaded
