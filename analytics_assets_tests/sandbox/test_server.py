"""The sandbox API over real HTTP on loopback: envelope, pagination, auth, filters, defects, log."""

from __future__ import annotations

import http.client
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from analytics_assets.sandbox import (
    ALL_NULL_COLUMN,
    DEFECTS,
    GENERATED_UNTIL,
    SandboxConfig,
    SandboxServer,
)
from analytics_assets.sandbox.defects import UNDECLARED_STAT
from analytics_assets.schema import TABLES, TABLES_BY_NAME, Column, Field
from analytics_assets_tests.sandbox.helpers import KEY, get, ids, walk, walk_all

# The OpenAPI spec's pagination_envelope (paths /v1/users, /v1/leads, /v1/campaigns, 200).
ENVELOPE_TYPES: dict[str, tuple[type, ...]] = {
    "status": (str,),
    "errors": (list,),
    "has_more": (bool,),
    "next_page": (str, type(None)),
}
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "object": (dict,),
    "timestamp": (str,),
    "json": (list, dict),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture(scope="module")
def token_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(page_mode="token")) as server:
        yield server


def column_values(records: list[dict[str, Any]], column: Column) -> list[Any]:
    """The value at ``column.path`` in every record; None below a null object."""
    values = []
    for record in records:
        value: Any = record
        for key in column.path:
            value = None if value is None else value.get(key)
        values.append(value)
    return values


def assert_shape(value: Any, fields: tuple[Field, ...], where: str) -> None:
    """``value`` has exactly the schema's fields, each of its declared JSON type or a null."""
    assert isinstance(value, dict), where
    assert list(value) == [field.name for field in fields], where
    for field in fields:
        item = value[field.name]
        if item is None:
            assert field.nullable, f"{where}.{field.name} is null but not nullable"
            continue
        assert type(item) in JSON_TYPES[field.type], f"{where}.{field.name}={item!r}"
        if field.type == "object" and field.drop_undeclared:
            # An embedded record, whole: the declared members plus the rest of it.
            assert {f.name for f in field.fields} <= set(item), where
        elif field.type == "object":
            assert_shape(item, field.fields, f"{where}.{field.name}")
        elif field.format == "date-time":
            assert datetime.fromisoformat(item).tzinfo is not None
        elif field.type == "timestamp":
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", item), item
        elif field.format == "email":
            assert "@" in item


# -- envelope and records ---------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["leads", "campaigns"])
def test_envelope_matches_openapi(
    session: requests.Session, sandbox: SandboxServer, resource: str
) -> None:
    response = get(session, sandbox, resource)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == [*ENVELOPE_TYPES, resource]
    for key, types in ENVELOPE_TYPES.items():
        assert isinstance(body[key], types), key
    assert body["status"] == "success"
    assert body["errors"] == []
    assert isinstance(body[resource], list)


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_records_follow_the_schema(
    session: requests.Session, sandbox: SandboxServer, table: Any
) -> None:
    served = [r for body in walk_all(session, sandbox, table) for r in body[table.name]]
    assert served == sandbox.records(table.name)
    assert len(served) == sandbox.config.counts[table.name]
    for record in served:
        assert_shape(record, table.fields, f"{table.name}[{record['id']}]")


def test_ids_are_unique_hashed_strings(sandbox: SandboxServer) -> None:
    for table in TABLES:
        record_ids = [record["id"] for record in sandbox.records(table.name)]
        assert len(set(record_ids)) == len(record_ids)
        assert all(i.startswith(table.name[0] + "_") and len(i) == 14 for i in record_ids)


def test_counts_are_the_configured_ones(sandbox: SandboxServer) -> None:
    assert {t.name: len(sandbox.records(t.name)) for t in TABLES} == {
        "users": 25,
        "leads": 2500,
        "campaigns": 40,
        "campaign_leads": 3000,
        "replies": 600,
        "events": 3000,
        "lead_statuses": 8,
        "lead_fields": 12,
        "tags": 30,
        "dnc_domains": 150,
    }


def test_all_null_column_is_null_in_every_row(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    table_name, column_name = ALL_NULL_COLUMN
    column = TABLES_BY_NAME[table_name].column(column_name)
    assert column.nullable
    served = get(session, sandbox, table_name).json()[table_name]
    assert len(served) == 25
    assert column_values(served, column) == [None] * len(served)


def test_nullable_columns_are_sometimes_null_and_others_never(sandbox: SandboxServer) -> None:
    for table in TABLES:
        records = sandbox.records(table.name)
        for column in table.columns:
            values = column_values(records, column)
            share = values.count(None) / len(values)
            where = f"{table.name}.{column.name}"
            # A per-campaign record always names the campaign whose endpoint serves it.
            is_parent_link = table.parent is not None and column.name == table.parent.param
            if not column.nullable or is_parent_link:
                assert share == 0, where
            elif (table.name, column.name) != ALL_NULL_COLUMN:
                assert 0.05 <= share <= 0.4, f"{where}: {share:.0%} null"


def test_references_resolve(sandbox: SandboxServer) -> None:
    for table in TABLES:
        records = sandbox.records(table.name)
        for column in (c for c in table.columns if c.references):
            target, key = column.references.split(".")
            known = {record[key] for record in sandbox.records(target)}
            values = [v for v in column_values(records, column) if v is not None]
            assert values and set(values) <= known, f"{table.name}.{column.name}"


def test_campaign_creator_is_a_real_user_or_null(sandbox: SandboxServer) -> None:
    users = {u["id"]: {k: u[k] for k in ("id", "name", "email")} for u in sandbox.records("users")}
    creators = [c["creator"] for c in sandbox.records("campaigns")]
    assert None in creators
    for creator in filter(None, creators):
        assert creator == users[creator["id"]]


def test_counters_make_sense(sandbox: SandboxServer) -> None:
    stats = [c["stats"] for c in sandbox.records("campaigns")]
    assert None in stats
    for s in filter(None, stats):
        assert all(v >= 0 for v in s.values())
        assert (
            s["prospects_contacted"]
            >= s["prospects_reached"]
            >= s["prospects_opened"]
            >= s["prospects_replied"]
        )
        assert s["prospects_bounced"] <= s["prospects_contacted"]
    for lead in sandbox.records("leads"):
        if isinstance(lead["sent_count"], int) and isinstance(lead["replied_count"], int):
            assert 0 <= lead["replied_count"] <= lead["sent_count"]


# -- pagination -------------------------------------------------------------------------------


def test_url_mode_walk_yields_every_record_once_in_order(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    bodies = walk(session, sandbox, "leads")
    assert len(bodies) == 25
    assert [len(body["leads"]) for body in bodies] == [100] * 25
    assert ids(bodies, "leads") == [lead["id"] for lead in sandbox.records("leads")]
    assert bodies[0]["next_page"] == f"{sandbox.base_url}leads?page=2"
    assert bodies[-1]["has_more"] is False and bodies[-1]["next_page"] is None


def test_token_mode_walk_yields_every_record_once_in_order(
    session: requests.Session, token_sandbox: SandboxServer
) -> None:
    for resource in ("leads", "campaigns"):
        bodies = walk(session, token_sandbox, resource)
        walked = ids(bodies, resource)
        assert walked == [r["id"] for r in token_sandbox.records(resource)]
        assert len(set(walked)) == len(walked)
    assert len(walk(session, token_sandbox, "leads")) == 25


def test_last_page_can_be_partial() -> None:
    with SandboxServer(SandboxConfig(leads=230, users=3, page_size=100)) as server:
        with requests.Session() as session:
            session.trust_env = False
            bodies = walk(session, server, "leads")
    assert [len(body["leads"]) for body in bodies] == [100, 100, 30]


def test_page_beyond_the_last_is_empty(session: requests.Session, sandbox: SandboxServer) -> None:
    body = get(session, sandbox, "leads", page="26").json()
    assert body == {
        "status": "success",
        "errors": [],
        "has_more": False,
        "next_page": None,
        "leads": [],
    }


@pytest.mark.parametrize("page", ["0", "-1", "abc", "", "1.5", "2x"])
def test_bad_page_is_400_bad_params(
    session: requests.Session, sandbox: SandboxServer, page: str
) -> None:
    response = get(session, sandbox, "leads", page=page)
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert response.json()["error"]["reason"] == "bad_params"


def test_invalid_token_is_400_bad_params(
    session: requests.Session, token_sandbox: SandboxServer
) -> None:
    first = get(session, token_sandbox, "leads").json()
    for token in ("garbage!", "bm9wZQ", first["next_page"] + "x"):
        response = get(session, token_sandbox, "leads", next_page=token)
        assert response.status_code == 400, token
        assert response.json()["error"]["reason"] == "bad_params"
    # A leads cursor is not a campaigns cursor.
    assert get(session, token_sandbox, "campaigns", next_page=first["next_page"]).status_code == 400


def test_url_mode_rejects_a_next_page_parameter(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    # Silently serving page 1 again would make a token-style client loop for ever.
    next_url = get(session, sandbox, "leads").json()["next_page"]
    response = get(session, sandbox, "leads", next_page=next_url)
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "bad_params"


def test_users_on_a_single_page_come_bare(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    body = get(session, sandbox, "users").json()
    assert list(body) == ["status", "errors", "users"]
    assert [u["id"] for u in body["users"]] == [u["id"] for u in sandbox.records("users")]


def test_users_envelope_is_full_when_not_bare() -> None:
    configs = [SandboxConfig(users=150, leads=10), SandboxConfig(bare_single_page=False)]
    with requests.Session() as session:
        session.trust_env = False
        for config in configs:
            with SandboxServer(config) as server:
                bodies = walk(session, server, "users")
                assert all(list(body) == [*ENVELOPE_TYPES, "users"] for body in bodies)
                assert ids(bodies, "users") == [u["id"] for u in server.records("users")]


def test_same_seed_same_bytes_other_seed_other_data() -> None:
    configs = [SandboxConfig(page_mode="token", leads=300, seed=seed) for seed in (7, 7, 8)]
    servers = [SandboxServer(config) for config in configs]
    try:
        for server in servers:
            server.start()
        pages: list[list[bytes]] = [[], [], []]
        for i, server in enumerate(servers):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for resource, count in (("users", 1), ("leads", 3), ("campaigns", 1)):
                for page in range(1, count + 1):
                    connection.request(
                        "GET", f"/v1/{resource}?page={page}", headers={"x-api-key": KEY}
                    )
                    response = connection.getresponse()
                    assert response.status == 200
                    pages[i].append(response.read())
            connection.close()
    finally:
        for server in servers:
            server.stop()
    assert pages[0] == pages[1]
    assert all(a != b for a, b in zip(pages[0], pages[2], strict=True))
    assert not set(r["id"] for r in servers[0].records("leads")) & set(
        r["id"] for r in servers[2].records("leads")
    )


def test_keep_alive_with_content_length(sandbox: SandboxServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=10)
    sockets = set()
    for page in (1, 2, 3):
        connection.request("GET", f"/v1/leads?page={page}", headers={"x-api-key": KEY})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200
        assert response.version == 11
        assert int(response.headers["Content-Length"]) == len(body)
        assert response.headers.get("Connection") is None
        sockets.add(id(connection.sock))
    connection.close()
    assert len(sockets) == 1


# -- auth and errors -------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "wrong-key-123", ""])
def test_missing_or_wrong_key_is_401(
    session: requests.Session, sandbox: SandboxServer, key: str | None
) -> None:
    response = get(session, sandbox, "leads", key=key)
    assert response.status_code == 401
    assert response.json() == {
        "status": "error",
        "error": {
            "reason": "unauthorized",
            "message": "Failed to find api key. Did you set header 'x-api-key'?",
        },
    }
    assert KEY not in response.text
    assert key is None or key == "" or key not in response.text


def test_key_header_is_case_insensitive_and_configurable(session: requests.Session) -> None:
    config = SandboxConfig(api_key="s3cret", key_header="X-Custom-Key", users=2, leads=1)
    with SandboxServer(config) as server:
        assert get(session, server, "users", key="s3cret", header="x-custom-key").status_code == 200
        assert get(session, server, "users", key="s3cret", header="X-CUSTOM-KEY").status_code == 200
        wrong = get(session, server, "users", key="s3cret", header="x-api-key")
        assert wrong.status_code == 401
        assert "'X-Custom-Key'" in wrong.json()["error"]["message"]
        assert "s3cret" not in wrong.text


@pytest.mark.parametrize("path", ["/v1/nope", "/v2/leads", "/", "/v1/leads/l_123", "/v1/"])
def test_unknown_path_is_404(session: requests.Session, sandbox: SandboxServer, path: str) -> None:
    response = session.get(
        f"http://127.0.0.1:{sandbox.port}{path}", headers={"x-api-key": KEY}, timeout=10
    )
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "error"
    assert body["error"]["reason"] == "not_found"
    assert isinstance(body["error"]["message"], str)


# -- updated_after and change_leads ------------------------------------------------------------


@pytest.fixture
def small() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(users=5, leads=300, campaigns=3, page_size=50)) as server:
        yield server


def test_updated_after_filters_on_server_side_updated_at(
    session: requests.Session, small: SandboxServer
) -> None:
    cutoff = datetime(2024, 7, 1, tzinfo=UTC)
    expected = [
        lead["id"]
        for lead, stamp in zip(small.records("leads"), small.updated_at("leads"), strict=True)
        if stamp > cutoff
    ]
    assert 0 < len(expected) < 300
    for raw in (
        "2024-07-01T00:00:00Z",
        "2024-07-01T00:00:00+00:00",
        "2024-07-01T00:00:00",
        "2024-07-01T02:00:00+02:00",
    ):
        assert ids(walk(session, small, "leads", updated_after=raw), "leads") == expected, raw
    assert "updated_after" not in small.records("leads")[0]


def test_change_leads_shows_up_behind_updated_after(
    session: requests.Session, small: SandboxServer
) -> None:
    since = GENERATED_UNTIL.isoformat()
    nothing = walk(session, small, "leads", updated_after=since)
    assert [len(body["leads"]) for body in nothing] == [0]
    before = {lead["id"]: lead for lead in small.records("leads")}

    changed = small.change_leads(60)

    assert len(changed) == len(set(changed)) == 60
    order = [lead["id"] for lead in small.records("leads")]
    assert changed == sorted(changed, key=order.index)
    bodies = walk(session, small, "leads", updated_after=since)
    assert [len(body["leads"]) for body in bodies] == [50, 10]
    assert ids(bodies, "leads") == changed
    for lead in (r for body in bodies for r in body["leads"]):
        old = before[lead["id"]]
        assert lead["status"] != old["status"]
        assert lead["sent_count"] == (old["sent_count"] or 0) + 1
        assert datetime.fromisoformat(lead["last_sent_at"]) >= GENERATED_UNTIL
    # The unfiltered walk serves the change too, same order and count.
    walked = [r for body in walk(session, small, "leads") for r in body["leads"]]
    assert walked == small.records("leads")
    assert sum(lead != before[lead["id"]] for lead in walked) == 60
    # A second change picks other leads; the filter then returns both batches.
    again = small.change_leads(5)
    assert set(again) != set(changed)
    both = ids(walk(session, small, "leads", updated_after=since), "leads")
    assert set(both) == {*changed, *again}


def test_change_leads_is_deterministic() -> None:
    config = SandboxConfig(users=3, leads=200, campaigns=1)
    first, second = SandboxServer(config), SandboxServer(config)
    assert [first.change_leads(7) for _ in range(2)] == [second.change_leads(7) for _ in range(2)]
    assert first.records("leads") != SandboxServer(config).records("leads")
    with pytest.raises(ValueError):
        first.change_leads(201)


@pytest.mark.parametrize("raw", ["yesterday", "2024-13-01", "", "1719792000"])
def test_bad_updated_after_is_400(
    session: requests.Session, small: SandboxServer, raw: str
) -> None:
    response = get(session, small, "leads", updated_after=raw)
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "bad_params"


# -- defects ---------------------------------------------------------------------------------


Served = dict[str, list[dict[str, Any]]]


def serve(config: SandboxConfig) -> tuple[SandboxServer, Served, dict[str, list[list[str]]]]:
    """Start a server, walk every resource over HTTP and stop it.

    Returns:
        The server, the served records per resource, and the ids on each page per resource.
    """
    with SandboxServer(config) as server, requests.Session() as client:
        client.trust_env = False
        bodies = {table.name: walk_all(client, server, table) for table in TABLES}
    served = {name: [r for body in pages for r in body[name]] for name, pages in bodies.items()}
    page_ids = {
        name: [[r["id"] for r in body[name]] for body in pages] for name, pages in bodies.items()
    }
    for name, records in served.items():
        assert records == server.records(name)
    return server, served, page_ids


def test_no_defects_by_default(sandbox: SandboxServer) -> None:
    assert sandbox.defect_ids == {}


def test_defect_null_email() -> None:
    server, served, _ = serve(SandboxConfig(users=10, leads=250, defects=("null_email",)))
    [user_id] = server.defect_ids["null_email"]
    assert [u["id"] for u in served["users"] if u["email"] is None] == [user_id]


def test_defect_malformed_email() -> None:
    server, served, _ = serve(SandboxConfig(users=10, leads=250, defects=("malformed_email",)))
    [user_id] = server.defect_ids["malformed_email"]
    bad = [(u["id"], u["email"]) for u in served["users"] if "@" not in u["email"]]
    assert bad == [(user_id, "not-an-email")]


def test_defect_null_owner_id() -> None:
    server, served, _ = serve(SandboxConfig(users=10, leads=250, defects=("null_owner_id",)))
    [lead_id] = server.defect_ids["null_owner_id"]
    assert [lead["id"] for lead in served["leads"] if lead["owner_id"] is None] == [lead_id]


def test_defect_duplicate_id() -> None:
    server, served, pages = serve(SandboxConfig(users=10, leads=250, defects=("duplicate_id",)))
    [lead_id] = server.defect_ids["duplicate_id"]
    counts = Counter(lead["id"] for lead in served["leads"])
    assert [i for i, n in counts.items() if n > 1] == [lead_id]
    assert counts[lead_id] == 2
    assert [len(page) for page in pages["leads"]] == [100, 100, 50]
    assert lead_id in pages["leads"][0] and lead_id in pages["leads"][1]
    copies = [lead for lead in served["leads"] if lead["id"] == lead_id]
    assert copies[0] == copies[1]
    # The lead it replaced is gone, and so are its enrollments: every reference still resolves.
    assert {row["lead"]["id"] for row in served["campaign_leads"]} <= set(counts)
    assert len(served["campaign_leads"]) < 3000


def test_defect_string_in_integer() -> None:
    server, served, _ = serve(SandboxConfig(users=10, leads=250, defects=("string_in_integer",)))
    [lead_id] = server.defect_ids["string_in_integer"]
    odd = [
        (lead["id"], lead["sent_count"])
        for lead in served["leads"]
        if lead["sent_count"] is not None and type(lead["sent_count"]) is not int
    ]
    assert odd == [(lead_id, "many")]


def test_defect_undeclared_field() -> None:
    server, served, _ = serve(SandboxConfig(users=10, leads=250, defects=("undeclared_field",)))
    with_stats = [c for c in served["campaigns"] if c["stats"] is not None]
    assert 0 < len(with_stats) < len(served["campaigns"])
    assert server.defect_ids["undeclared_field"] == [c["id"] for c in with_stats]
    stats = next(f for f in TABLES_BY_NAME["campaigns"].fields if f.name == "stats")
    assert UNDECLARED_STAT not in {f.name for f in stats.fields}
    for campaign in with_stats:
        clicked = campaign["stats"][UNDECLARED_STAT]
        assert type(clicked) is int and 0 <= clicked <= campaign["stats"]["prospects_opened"]


def test_defects_combine_and_hit_the_same_records() -> None:
    alone = {
        name: SandboxServer(SandboxConfig(users=10, leads=250, defects=(name,))).defect_ids[name]
        for name in DEFECTS
    }
    together = SandboxServer(SandboxConfig(users=10, leads=250, defects=DEFECTS)).defect_ids
    assert together == alone
    targets = [hit[0] for name, hit in together.items() if name != "undeclared_field"]
    assert len(set(targets)) == len(targets)


def test_unknown_defect_is_a_value_error_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError) as error:
        SandboxConfig(defects=("null_email", "bogus"))
    assert "bogus" in str(error.value)
    assert all(name in str(error.value) for name in DEFECTS)


def test_defect_that_does_not_fit_the_data_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="duplicate_id"):
        SandboxServer(SandboxConfig(leads=100, defects=("duplicate_id",)))


# -- request log -----------------------------------------------------------------------------


def test_request_log_has_one_entry_per_request_without_the_key(session: requests.Session) -> None:
    with SandboxServer(SandboxConfig(users=5, leads=250, campaigns=2)) as server:
        get(session, server, "users")
        server.clear_log()
        assert server.request_log == []
        statuses = [
            get(session, server, "users").status_code,
            get(session, server, "leads", page="2").status_code,
            get(session, server, "leads", key="not-the-key").status_code,
            get(session, server, "nope").status_code,
            get(session, server, "leads", page="x").status_code,
        ]
        log = server.request_log
    assert [entry.status for entry in log] == statuses == [200, 200, 401, 404, 400]
    assert [entry.resource for entry in log] == ["users", "leads", None, None, "leads"]
    assert [entry.page for entry in log] == [1, 2, None, None, None]
    assert [entry.method for entry in log] == ["GET"] * 5
    assert [entry.path for entry in log] == [
        "/v1/users",
        "/v1/leads",
        "/v1/leads",
        "/v1/nope",
        "/v1/leads",
    ]
    assert [entry.query for entry in log] == [{}, {"page": "2"}, {}, {}, {"page": "x"}]
    times = [entry.time for entry in log]
    assert times == sorted(times)
    assert KEY not in repr(log) and "not-the-key" not in repr(log)


def test_request_log_is_safe_under_concurrent_clients(sandbox: SandboxServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def fetch(page: int) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=10)
        connection.request("GET", f"/v1/leads?page={page}", headers={"x-api-key": KEY})
        response = connection.getresponse()
        records = json.loads(response.read())["leads"]
        connection.close()
        return len(records)

    before = len(sandbox.request_log)
    with ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(fetch, range(1, 26)))
    assert sizes == [100] * 25
    assert len(sandbox.request_log) == before + 25


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = SandboxServer(SandboxConfig(users=2, leads=1, campaigns=1)).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/v1/users", headers={"x-api-key": KEY})
    assert connection.getresponse().read()
    server.stop()
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        connection.request("GET", "/v1/users", headers={"x-api-key": KEY})
        connection.getresponse()
    connection.close()
    server.stop()  # idempotent


def test_other_methods_are_405(session: requests.Session, sandbox: SandboxServer) -> None:
    response = session.post(
        sandbox.base_url + "campaigns",
        json={"campaign_name": "x"},
        headers={"x-api-key": KEY},
        timeout=10,
    )
    assert response.status_code == 405
    assert response.json()["error"]["reason"] == "invalid_request"
    assert get(session, sandbox, "campaigns").status_code == 200
