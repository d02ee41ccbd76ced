"""next_page pagination through dlt's REST client against the sandbox over real HTTP."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.rest_api import rest_api_source

from analytics_assets.api.errors import ApiResponseError
from analytics_assets.api.paginator import NextPagePaginator, more_flag
from analytics_assets.api.redact import Redactor
from analytics_assets.sandbox import HasMoreWithoutNextPage, SandboxConfig, SandboxServer
from analytics_assets_tests.conftest import TEST_KEY


def _client(server: SandboxServer, paginator: NextPagePaginator) -> RESTClient:
    auth = APIKeyAuth(name=server.config.key_header, api_key=TEST_KEY, location="header")
    return RESTClient(base_url=server.base_url, auth=auth, paginator=paginator)


def _ids(pages: Iterator[list[dict]]) -> list[str]:
    return [record["id"] for page in pages for record in page]


@pytest.fixture(scope="module", params=["url", "token"])
def changed_server(request: pytest.FixtureRequest) -> Iterator[tuple[SandboxServer, list[str]]]:
    """Small pages and 35 changed leads, so a filtered read spans four pages."""
    config = SandboxConfig(api_key=TEST_KEY, leads=200, page_size=10, page_mode=request.param)
    with SandboxServer(config) as server:
        yield server, server.change_leads(35)


def test_filters_of_the_first_request_stay_on_every_page(
    changed_server: tuple[SandboxServer, list[str]],
) -> None:
    server, changed = changed_server
    server.clear_log()
    cutoff = "2025-06-01T00:00:00Z"  # after every generated update, before change_leads()
    pages = _client(server, NextPagePaginator("leads")).paginate(
        "leads", params={"updated_after": cutoff}, data_selector="leads"
    )

    ids = _ids(pages)

    assert sorted(ids) == sorted(changed)
    assert len(server.request_log) == 4
    assert all(entry.query.get("updated_after") == cutoff for entry in server.request_log)


def test_pages_are_counted_for_progress(sandbox: SandboxServer) -> None:
    seen: list[int] = []

    ids = _ids(
        _client(sandbox, NextPagePaginator("leads", on_page=seen.append)).paginate(
            "leads", data_selector="leads"
        )
    )

    assert seen == [100] * 25
    assert ids == [record["id"] for record in sandbox.records("leads")]


def test_a_single_page_without_pagination_keys_is_read_once(sandbox: SandboxServer) -> None:
    sandbox.clear_log()
    client = _client(sandbox, NextPagePaginator("users"))

    ids = _ids(client.paginate("users", data_selector="users"))

    assert ids == [record["id"] for record in sandbox.records("users")]
    assert [(entry.path, entry.page) for entry in sandbox.request_log] == [("/v1/users", 1)]


def test_the_seed_config_taken_literally_stops_after_page_one(sandbox: SandboxServer) -> None:
    """Why NextPagePaginator exists: dlt's cursor paginator reads `cursors.next`."""
    source = rest_api_source(
        {
            "client": {
                "base_url": sandbox.base_url,
                "auth": {"type": "api_key", "name": "x-api-key", "api_key": TEST_KEY},
            },
            "resources": [
                {
                    "name": "leads",
                    "endpoint": {
                        "path": "/leads",
                        "data_selector": "leads",
                        "paginator": {"type": "cursor", "cursor_param": "next_page"},
                    },
                }
            ],
        }
    )

    assert len(list(source.resources["leads"])) == 100


@pytest.mark.parametrize("next_page", [None, "", False, 0, []], ids=repr)
def test_has_more_without_a_usable_next_page_is_an_error_not_an_end(
    sandbox: SandboxServer, next_page: object
) -> None:
    sandbox.clear_faults()
    sandbox.inject("leads", HasMoreWithoutNextPage(next_page), page=1)  # type: ignore[arg-type]
    pages = _client(sandbox, NextPagePaginator("leads")).paginate("leads", data_selector="leads")

    with pytest.raises(ApiResponseError, match="leads answered (has_more true but )?next_page"):
        _ids(pages)


@pytest.mark.parametrize(
    ("value", "flag"),
    [(True, True), (False, False), (None, None), ("true", True), (1, True), ("0", False)],
)
def test_has_more_is_read_as_a_boolean(value: object, flag: bool | None) -> None:
    assert more_flag(value, "has_more", "u") is flag


@pytest.mark.parametrize("value", ["yes", 2, [], {}])
def test_has_more_that_is_no_boolean_fails(value: object) -> None:
    with pytest.raises(ApiResponseError, match="answered has_more .* not a boolean"):
        more_flag(value, "has_more", "u")


def _response(url: str, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code, response.url, response.raw = 200, url, io.BytesIO(body)
    return response


def test_a_next_page_carrying_the_key_in_its_query_is_followed_without_it() -> None:
    paginator = NextPagePaginator("leads", redact=Redactor([TEST_KEY]))
    base = "http://127.0.0.1:9/v1/leads"
    body = json.dumps(
        {"has_more": True, "next_page": f"{base}?page=2&api_key={TEST_KEY}", "leads": [{"id": "a"}]}
    )
    paginator.init_request(requests.Request("GET", base, params={"updated_after": "x"}))
    paginator.update_state(_response(base, body.encode()), [{"id": "a"}])
    request = requests.Request("GET", base)

    paginator.update_request(request)

    assert (request.url, request.params) == (base, {"updated_after": "x", "page": "2"})


def test_repeated_values_are_found_in_every_range_of_hashes() -> None:
    import pyarrow as pa

    from analytics_assets.api.paginator import HASH_RANGES, ONE_PASS_MAX, repeated_values

    low, high = -(2**63), 2**63 - 1
    width = 2**64 // HASH_RANGES
    edges = [low + part * width for part in range(HASH_RANGES)]  # each range's first value
    values = [low, high, high, *edges, edges[3], edges[3], edges[3], edges[9] - 1, 0, 0, 7]

    for ranges in (HASH_RANGES, None):  # by range, and in one pass (few values)
        repeated = repeated_values(pa.array(values, pa.int64()), ranges).to_pylist()

        assert sorted(repeated) == sorted({high, edges[3], 0, low})
    assert repeated_values(pa.array(range(1000), pa.int64()), HASH_RANGES).to_pylist() == []
    many = pa.array([*range(ONE_PASS_MAX), -5, 2**62, -5, 2**62, 2**62], pa.int64())
    assert sorted(repeated_values(many).to_pylist()) == [-5, 2**62]  # by range: many values
