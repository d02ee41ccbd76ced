"""records.py: which records cannot load as declared, and the rows that set them aside."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from analytics_assets.api.records import RejectedRecords, rejected_row, shape_problem
from analytics_assets.api.redact import Redactor
from analytics_assets.schema import CAMPAIGNS, LEADS

LEAD: dict[str, Any] = {
    "id": "l_1",
    "status": "replied",
    "data": {"first_name": "Ada", "city": "Paris"},
    "creator_id": "u_1",
    "owner_id": "u_1",
    "bounced": False,
    "optedout": None,
    "sent_count": 3,
    "replied_count": 1,
    "last_sent_at": "2026-11-01T10:00:00Z",
}


def _lead(**changes: Any) -> dict[str, Any]:
    lead = copy.deepcopy(LEAD)
    for name, value in changes.items():
        if value is KeyError:
            del lead[name]
        else:
            lead[name] = value
    return lead


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (_lead(), None),
        (_lead(sent_count="5"), None),  # dlt coerces it
        (_lead(extra={"deep": [1, 2]}), None),  # undeclared: schema_drift's business
        (_lead(data={}), None),
        ("oops", "the item is a string, not an object"),
        ([LEAD], "the item is a list, not an object"),
        (_lead(id=KeyError), "id is missing"),
        (_lead(id=None), "id is null"),
        (_lead(id={"v": 1}), "id is an object, not a string"),
        (_lead(id=True), "id is a boolean, not a string"),
        (_lead(id=""), "id is empty"),
        (_lead(id="  "), "id is empty"),
        (_lead(data=None), "data is null or missing; declared a non-nullable object"),
        (_lead(data="x"), "data is a string; declared an object"),
        (_lead(status=["a"]), "status is a list; declared string"),
        (_lead(data={"city": {"name": "x"}}), "data.city is an object; declared string"),
        (_lead(sent_count=2**63), "sent_count is 9223372036854775808, beyond 64-bit integers"),
        (_lead(ID="x"), "ID would load into the declared column 'id' as well"),
        (_lead(data={"City": "x"}), "data.City would load into the declared column 'city' as well"),
    ],
)
def test_shape_problem(record: Any, problem: str | None) -> None:
    assert shape_problem(record, LEADS) == problem


def test_a_nullable_object_may_be_null() -> None:
    assert shape_problem({"id": "c_1", "creator": None, "stats": None}, CAMPAIGNS) is None


def test_a_rejected_row_masks_the_key_and_keeps_the_record_as_served() -> None:
    record = _lead(status={"note": "key sk-1234567890 echoed"})
    row = rejected_row(
        record,
        LEADS,
        "status is an object; declared string",
        "http://127.0.0.1:1/v1/leads?page=2&api_key=sk-1234567890",
        page=2,
        position=7,
        redact=Redactor(["sk-1234567890"]),
    )

    assert row["page_url"] == "http://127.0.0.1:1/v1/leads?page=2&api_key=***"
    assert (row["resource"], row["page"], row["position"], row["record_id"]) == (
        "leads",
        2,
        7,
        "l_1",
    )
    assert '"status": {"note": "key *** echoed"}' in row["raw_json"]
    assert "sk-1234567890" not in str(row)


def test_rejected_records_count_per_resource_and_carry_the_run() -> None:
    rejected = RejectedRecords()
    rejected.add([{"resource": "leads"}, {"resource": "leads"}, {"resource": "users"}])

    assert (rejected.count("leads"), rejected.count("users"), rejected.count("campaigns")) == (
        2,
        1,
        0,
    )
    assert {row["run_id"] for row in rejected.for_run("r-1")} == {"r-1"}


def _nested(depth: int) -> list[Any]:
    root: list[Any] = []
    level = root
    for _ in range(depth):
        level.append([])
        level = level[0]
    return root


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (_lead(id=float("inf")), "id is inf, not a finite number"),
        (_lead(sent_count=float("inf")), "sent_count is inf, not a finite number"),
        (_lead(extra={"ratio": float("-inf")}), "extra.ratio is -inf, not a finite number"),
        (_lead(data__city="WRONG"), "data__city would load into the declared column 'data__city'"),
        (_lead(Data__City="x"), "Data__City would load into the declared column 'data__city'"),
        (_lead(deep=_nested(1000)), "it cannot be written as JSON (Recursion limit reached)"),
    ],
)
def test_what_dlt_would_load_wrong_or_not_at_all(record: Any, problem: str) -> None:
    found = shape_problem(record, LEADS)
    assert found is not None and found.startswith(problem)


def test_a_record_too_deep_to_print_still_gets_its_row() -> None:
    record = _lead(deep=_nested(5000))

    row = rejected_row(record, LEADS, "deep", "u", 1, 0, Redactor([]))

    assert row["record_id"] == "l_1"
    assert row["raw_json"] == "<dict nested too deep to keep>"


def test_the_raw_json_is_masked_before_it_is_cut() -> None:
    key = "k3y/Ab+Cd=ef-123456"
    padding = "x" * (20_000 - len('{"id": "l_1", "note": "') - len(key) // 2)
    record = {"id": "l_1", "note": padding + key}

    row = rejected_row(record, LEADS, "r", "u", 1, 0, Redactor([key]))

    assert row["raw_json"].endswith('x***"}')  # the whole key masked, then at most 20,000 kept
    assert key[: len(key) // 2] not in row["raw_json"]
