"""PagesAsArrow: fitting pages become Arrow tables; unloadable records are set aside."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pyarrow as pa
import requests
from dlt.sources.helpers.rest_client.client import PageData

from analytics_assets.api.arrow_pages import PagesAsArrow, arrow_schema
from analytics_assets.api.paginator import NextPagePaginator
from analytics_assets.api.records import RejectedRecords
from analytics_assets.schema import LEADS, Field, Table
from analytics_assets_tests.api.test_records import LEAD


def _page(records: list[Any], last: bool = True) -> PageData[Any]:
    """A page as dlt's REST client yields it: records plus the request, response and paginator
    (which has read the page's envelope, so it knows whether more follow)."""
    url = "http://127.0.0.1:1/v1/leads?page=2"
    envelope = {"has_more": not last, "next_page": None if last else url + "3", "leads": []}
    response = requests.Response()
    response.status_code, response.url = 200, url
    response.raw = io.BytesIO(json.dumps(envelope).encode())
    paginator = NextPagePaginator("leads")
    paginator.init_request(requests.Request("GET", url))
    paginator.update_state(response, [])
    request = requests.Request("GET", url)
    return PageData(records, request=request, response=response, paginator=paginator, auth=None)


def _leads(n: int) -> list[dict[str, Any]]:
    return [{**copy.deepcopy(LEAD), "id": f"l_{i}"} for i in range(n)]


def test_a_fitting_page_becomes_an_arrow_table_of_the_declared_columns() -> None:
    step = PagesAsArrow(LEADS)

    table = step(_page(_leads(3)))

    assert isinstance(table, pa.Table)
    assert table.schema == arrow_schema(LEADS)
    assert table.column("id").to_pylist() == ["l_0", "l_1", "l_2"]
    assert table.column("data__city").to_pylist() == ["Paris"] * 3
    assert (step.arrow_pages, step.record_pages) == (1, 0)


def test_pages_are_held_back_until_the_batch_is_full_or_the_read_ends() -> None:
    step = PagesAsArrow(LEADS, batch_rows=5)

    assert step(_page(_leads(3), last=False)) is None
    batch = step(_page(_leads(3), last=False))
    last = step(_page(_leads(1), last=True))

    assert (batch.num_rows, last.num_rows) == (6, 1)


def test_unloadable_records_are_set_aside_and_the_rest_go_on_as_records() -> None:
    rejected = RejectedRecords()
    step = PagesAsArrow(LEADS, rejected)
    page = _page(_leads(3))
    page[1] = {**page[1], "data": None}
    page[2] = "oops"

    out = step(page)

    assert out is page and [record["id"] for record in out] == ["l_0"]
    assert [(row["position"], row["record_id"], row["reason"]) for row in rejected.rows] == [
        (1, "l_1", "data is null or missing; declared a non-nullable object"),
        (2, None, "the item is a string, not an object"),
    ]
    assert page.paginator.incomplete == [
        "2 leads record(s) on page 1 could not be loaded as declared and were set aside in "
        "rejected_records"
    ]


def test_a_page_with_an_undeclared_field_takes_dlts_record_path_whole() -> None:
    step = PagesAsArrow(LEADS)
    page = _page([{**record, "score": 1} for record in _leads(2)])

    out = step(page)

    assert out is page and len(out) == 2 and (step.arrow_pages, step.record_pages) == (0, 1)


def test_an_empty_id_takes_the_record_path_and_is_set_aside() -> None:
    rejected = RejectedRecords()
    step = PagesAsArrow(LEADS, rejected)
    page = _page(_leads(2))
    page[0] = {**page[0], "id": ""}

    out = step(page)

    assert out is page and [record["id"] for record in out] == ["l_1"]
    assert [(row["position"], row["reason"]) for row in rejected.rows] == [(0, "id is empty")]


NESTED = Table(
    name="nested",
    description="A table with a nullable object inside a nullable object.",
    fields=(
        Field("id", "string", False, "Id."),
        Field(
            "owner",
            "object",
            True,
            "Owner.",
            fields=(
                Field("name", "string", True, "Name."),
                Field(
                    "team",
                    "object",
                    True,
                    "Team.",
                    fields=(Field("size", "integer", True, "Size."),),
                ),
            ),
        ),
        Field("active", "boolean", True, "Active."),
    ),
)


def test_a_null_or_missing_object_makes_all_its_columns_null_at_every_depth() -> None:
    records = [
        {"id": "a", "owner": {"name": "Ann", "team": {"size": 3}}, "active": True},
        {"id": "b", "owner": None, "active": False},
        {"id": "c", "owner": {"name": "Cy", "team": None}},
        {"id": "d", "owner": {"team": {}}, "active": None},
    ]

    table = PagesAsArrow(NESTED)(_page(records))

    assert table.schema == arrow_schema(NESTED)
    assert table.column_names == ["id", "owner__name", "owner__team__size", "active"]
    assert table.to_pylist() == [
        {"id": "a", "owner__name": "Ann", "owner__team__size": 3, "active": True},
        {"id": "b", "owner__name": None, "owner__team__size": None, "active": False},
        {"id": "c", "owner__name": "Cy", "owner__team__size": None, "active": None},
        {"id": "d", "owner__name": None, "owner__team__size": None, "active": None},
    ]


def test_a_float_in_an_integer_field_inside_an_object_takes_the_record_path() -> None:
    records = [{"id": "a", "owner": {"name": "Ann", "team": {"size": 2.5}}, "active": True}]
    step = PagesAsArrow(NESTED)

    out = step(_page(records))

    assert out == records  # as records: dlt's normal path types it (a variant column)
    assert (step.arrow_pages, step.record_pages) == (0, 1)
