"""Fault injection over real HTTP on loopback, observed by plain clients (requests, http.client)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from analytics_assets.sandbox import (
    Delay,
    DuplicateRecord,
    EmptyPageHasMore,
    ErrorEnvelope,
    Fault,
    InvalidJson,
    LoggedRequest,
    MissingResourceKey,
    Reset,
    SandboxConfig,
    SandboxServer,
    Status,
    Truncated,
)
from analytics_assets.sandbox.faults import INVALID_JSON_BODY, parse_fault_spec

KEY = "sandbox-key"
PAGE_SIZE = 50
CONFIG = SandboxConfig(users=5, leads=250, campaigns=3, page_size=PAGE_SIZE)  # 5 lead pages


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxServer]:
    with SandboxServer(CONFIG) as server:
        yield server


@pytest.fixture
def sandbox(shared: SandboxServer) -> Iterator[SandboxServer]:
    """The module's server with no queued faults and an empty log, before and after."""
    shared.clear_faults()
    shared.clear_log()
    yield shared
    shared.clear_faults()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.trust_env = False  # no proxies or netrc for loopback
        yield client


def get(
    session: requests.Session,
    server: SandboxServer,
    resource: str,
    page: int | None = None,
    key: str = KEY,
    timeout: float = 5,
    **params: str,
) -> requests.Response:
    if page is not None:
        params["page"] = str(page)
    return session.get(
        server.base_url + resource,
        headers={"x-api-key": key},
        params=params or None,
        timeout=timeout,
    )


def raw_get(
    server: SandboxServer, target: str
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """An http.client GET of ``/v1/<target>``; the caller reads and closes."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", f"/v1/{target}", headers={"x-api-key": KEY})
    return connection, connection.getresponse()


def ids(body: dict[str, Any], resource: str = "leads") -> list[str]:
    return [record["id"] for record in body[resource]]


def lead_ids(server: SandboxServer, page: int) -> list[str]:
    """The ids served normally on ``page`` of the leads."""
    return [r["id"] for r in server.records("leads")[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]


def log_of(server: SandboxServer) -> list[tuple[int | None, int, str | None]]:
    return [(entry.page, entry.status, entry.fault) for entry in server.request_log]


# -- Status -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (429, "too_many_requests"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "api_error"),
        (504, "api_error"),
        (400, "bad_params"),
        (403, "invalid_request_error"),
        (404, "not_found"),
        (422, "invalid_request"),
    ],
)
def test_status_answers_the_error_envelope(
    session: requests.Session, sandbox: SandboxServer, code: int, reason: str
) -> None:
    sandbox.inject("leads", Status(code))
    response = get(session, sandbox, "leads")
    assert response.status_code == code
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["status", "error"] and body["status"] == "error"
    assert body["error"]["reason"] == reason and body["error"]["message"]
    assert get(session, sandbox, "leads").status_code == 200
    assert log_of(sandbox) == [(1, code, "Status"), (1, 200, None)]


def test_status_sends_the_given_headers_and_body(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    reset = str(int(time.time()) + 30)
    sandbox.inject("leads", Status(429, {"Retry-After": "3"}))
    sandbox.inject("leads", Status(429, {"X-RateLimit-Reset": reset}))
    sandbox.inject("leads", Status(503, body=b"upstream down"))
    first, second, third = (get(session, sandbox, "leads") for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert first.json()["error"]["reason"] == "too_many_requests"
    assert (second.status_code, second.headers["X-RateLimit-Reset"]) == (429, reset)
    assert "Retry-After" not in second.headers
    assert (third.status_code, third.content) == (503, b"upstream down")


def test_status_rejects_a_success_code() -> None:
    with pytest.raises(ValueError, match="400..599"):
        Status(200)


# -- times, pages, order -----------------------------------------------------------------------


def test_times_is_honoured_then_normal_service_resumes(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", Status(503), page=3, times=2)
    statuses = [get(session, sandbox, "leads", page).status_code for page in (1, 2, 3, 3, 3, 4)]
    assert statuses == [200, 200, 503, 503, 200, 200]
    assert sandbox.pending_faults == []
    assert log_of(sandbox) == [
        (1, 200, None),
        (2, 200, None),
        (3, 503, "Status"),
        (3, 503, "Status"),
        (3, 200, None),
        (4, 200, None),
    ]


def test_page_none_matches_any_page_and_other_resources_are_untouched(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", Status(500), times=3)
    assert get(session, sandbox, "campaigns").status_code == 200
    assert get(session, sandbox, "users").status_code == 200
    assert [get(session, sandbox, "leads", page).status_code for page in (2, 5, 9, 1)] == [
        500,
        500,
        500,
        200,
    ]


def test_faults_match_in_injection_order(session: requests.Session, sandbox: SandboxServer) -> None:
    sandbox.inject("leads", Status(502), page=2)
    sandbox.inject("leads", Status(503))
    sandbox.inject("leads", Status(504), page=2)
    assert [i.fault for i in sandbox.pending_faults] == [Status(502), Status(503), Status(504)]
    # Page 1 skips the page-2 injection; page 2 then takes the first one still matching.
    statuses = [get(session, sandbox, "leads", page).status_code for page in (1, 2, 2, 2)]
    assert statuses == [503, 502, 504, 200]


def test_token_mode_pages_match_too(session: requests.Session) -> None:
    with SandboxServer(
        SandboxConfig(users=2, leads=120, campaigns=1, page_size=PAGE_SIZE, page_mode="token")
    ) as server:
        server.inject("leads", Status(503), page=2)
        cursor = get(session, server, "leads").json()["next_page"]
        assert get(session, server, "leads", next_page=cursor).status_code == 503
        assert get(session, server, "leads", next_page=cursor).status_code == 200
        assert [entry.page for entry in server.request_log] == [1, 2, 2]


def test_unauthenticated_and_invalid_requests_consume_no_fault(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", Status(503))
    assert get(session, sandbox, "leads", key="wrong").status_code == 401
    assert get(session, sandbox, "leads", updated_after="yesterday").status_code == 400
    assert get(session, sandbox, "leads").status_code == 503
    assert [entry.fault for entry in sandbox.request_log] == [None, None, "Status"]


def test_clear_faults(session: requests.Session, sandbox: SandboxServer) -> None:
    sandbox.inject("leads", Reset(), times=5)
    sandbox.clear_faults()
    assert sandbox.pending_faults == []
    assert get(session, sandbox, "leads").status_code == 200


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("nope", Reset()), ValueError),
        (("leads", Reset(), 0), ValueError),
        (("leads", Reset(), None, 0), ValueError),
        (("leads", "reset"), TypeError),
    ],
)
def test_inject_validates(sandbox: SandboxServer, args: tuple[Any, ...], error: type) -> None:
    with pytest.raises(error):
        sandbox.inject(*args)


# -- transport-level faults ----------------------------------------------------------------------


def test_delay_trips_a_client_timeout_then_serves_normally(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", Delay(2.0), page=2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(session, sandbox, "leads", 2, timeout=0.2)
    assert ids(get(session, sandbox, "leads", 2).json()) == lead_ids(sandbox, 2)
    assert log_of(sandbox) == [(2, 200, "Delay"), (2, 200, None)]


def test_delay_answers_normally_after_the_delay(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", Delay(0.3))
    started = time.monotonic()
    response = get(session, sandbox, "leads")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and ids(response.json()) == lead_ids(sandbox, 1)


def test_stop_does_not_wait_for_a_delay() -> None:
    server = SandboxServer(SandboxConfig(users=2, leads=10, campaigns=1)).start()
    server.inject("leads", Delay(60))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/v1/leads", headers={"x-api-key": KEY})
    deadline = time.monotonic() + 5
    while not server.request_log and time.monotonic() < deadline:  # the request has arrived
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    connection.close()


def test_reset_aborts_the_connection(session: requests.Session, sandbox: SandboxServer) -> None:
    sandbox.inject("leads", Reset(), page=2, times=2)
    with pytest.raises(requests.exceptions.ConnectionError, match="aborted"):
        get(session, sandbox, "leads", 2)
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    connection.request("GET", "/v1/leads?page=2", headers={"x-api-key": KEY})
    with pytest.raises(ConnectionError):  # builtin: reset by peer or closed without response
        connection.getresponse()
    connection.close()
    # The same session recovers on a new connection.
    assert ids(get(session, sandbox, "leads", 2).json()) == lead_ids(sandbox, 2)
    assert log_of(sandbox) == [(2, 0, "Reset"), (2, 0, "Reset"), (2, 200, None)]


def test_truncated_sends_half_the_announced_body(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    normal = get(session, sandbox, "leads", 3).content
    sandbox.clear_log()
    sandbox.inject("leads", Truncated(), page=3, times=2)
    connection, response = raw_get(sandbox, "leads?page=3")
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(normal))
    with pytest.raises(http.client.IncompleteRead) as error:
        response.read()
    assert error.value.partial == normal[: len(normal) // 2]
    connection.close()
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        get(session, sandbox, "leads", 3)
    assert get(session, sandbox, "leads", 3).content == normal
    assert log_of(sandbox) == [(3, 0, "Truncated"), (3, 0, "Truncated"), (3, 200, None)]


# -- body faults --------------------------------------------------------------------------------


def test_invalid_json(session: requests.Session, sandbox: SandboxServer) -> None:
    sandbox.inject("campaigns", InvalidJson())
    response = get(session, sandbox, "campaigns")
    assert response.status_code == 200 and response.content == INVALID_JSON_BODY
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert get(session, sandbox, "campaigns").json()["status"] == "success"
    assert log_of(sandbox) == [(1, 200, "InvalidJson"), (1, 200, None)]


@pytest.mark.parametrize("resource", ["leads", "users"])
def test_missing_resource_key(
    session: requests.Session, sandbox: SandboxServer, resource: str
) -> None:
    sandbox.inject(resource, MissingResourceKey())
    faulted = get(session, sandbox, resource)
    normal = get(session, sandbox, resource).json()
    assert faulted.status_code == 200
    assert faulted.json() == {key: value for key, value in normal.items() if key != resource}
    assert faulted.json()["status"] == "success"


def test_error_envelope(session: requests.Session, sandbox: SandboxServer) -> None:
    sandbox.inject("leads", ErrorEnvelope(), page=2)
    response = get(session, sandbox, "leads", 2)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["status", "errors", "has_more", "next_page"]
    assert body["status"] == "error" and body["has_more"] is False and body["next_page"] is None
    assert len(body["errors"]) == 1 and isinstance(body["errors"][0], str)
    assert log_of(sandbox) == [(2, 200, "ErrorEnvelope")]


@pytest.mark.parametrize("page_mode", ["url", "token"])
def test_empty_page_has_more_points_at_the_following_page(
    session: requests.Session, page_mode: str
) -> None:
    config = SandboxConfig(
        users=2, leads=120, campaigns=1, page_size=PAGE_SIZE, page_mode=page_mode
    )  # type: ignore[arg-type]
    with SandboxServer(config) as server:
        normal = get(session, server, "leads", 2).json()
        server.inject("leads", EmptyPageHasMore(), page=2)
        body = get(session, server, "leads", 2).json()
        assert body["leads"] == [] and body["has_more"] is True
        assert body["next_page"] == normal["next_page"]  # page 3
        # Beyond the last page too: an endless walk unless the client bounds it.
        server.inject("leads", EmptyPageHasMore(), page=40)
        body = get(session, server, "leads", 40).json()
        following = get(session, server, "leads", 41).json()
        assert body["has_more"] is True and following["has_more"] is False
        if page_mode == "url":
            assert body["next_page"] == f"{server.base_url}leads?page=41"
        else:  # the cursor leads to page 41
            assert get(session, server, "leads", next_page=body["next_page"]).json() == following


def test_empty_pages_on_every_page_never_end(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", EmptyPageHasMore(), times=1000)
    url, walked = sandbox.base_url + "leads", 0
    for _ in range(30):  # a client's own bound
        body = session.get(url, headers={"x-api-key": KEY}, timeout=5).json()
        assert body["leads"] == [] and body["has_more"] is True
        url, walked = body["next_page"], walked + 1
    assert walked == 30 and url == f"{sandbox.base_url}leads?page=31"
    assert [entry.page for entry in sandbox.request_log] == list(range(1, 31))


def test_duplicate_record_repeats_the_previous_pages_first_record(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", DuplicateRecord(), page=3)
    sandbox.inject("leads", DuplicateRecord(), page=1)
    walked = [get(session, sandbox, "leads", page).json() for page in range(1, 6)]
    assert ids(walked[0]) == [*lead_ids(sandbox, 1), lead_ids(sandbox, 2)[0]]
    assert ids(walked[2]) == [*lead_ids(sandbox, 3), lead_ids(sandbox, 2)[0]]
    assert walked[2]["leads"][-1] == sandbox.records("leads")[PAGE_SIZE]
    served = Counter(i for body in walked for i in ids(body))
    assert set(served) == {lead["id"] for lead in sandbox.records("leads")}
    assert [i for i, n in served.items() if n > 1] == [lead_ids(sandbox, 2)[0]]
    assert served[lead_ids(sandbox, 2)[0]] == 3
    assert [entry.fault for entry in sandbox.request_log] == [
        "DuplicateRecord",
        None,
        "DuplicateRecord",
        None,
        None,
    ]


def test_duplicate_record_on_a_single_page_repeats_its_own_first_record(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("users", DuplicateRecord())
    users = get(session, sandbox, "users").json()["users"]
    assert len(users) == 6 and users[-1] == users[0]


def test_duplicate_record_follows_the_updated_after_filter(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    since = "2024-07-01T00:00:00Z"
    page2 = get(session, sandbox, "leads", 2, updated_after=since).json()
    sandbox.inject("leads", DuplicateRecord(), page=3)
    page3 = get(session, sandbox, "leads", 3, updated_after=since).json()
    assert page3["leads"][-1] == page2["leads"][0]


# -- request log --------------------------------------------------------------------------------


def test_logged_request_stays_backward_compatible() -> None:
    entry = LoggedRequest(1.0, "GET", "/v1/leads", {}, 200, "leads", 1)
    assert entry.fault is None


def test_concurrent_clients_each_consume_one_use(sandbox: SandboxServer) -> None:
    sandbox.inject("leads", Status(503), times=10)
    statuses: list[int] = []
    lock = threading.Lock()

    def fetch(page: int) -> None:
        connection, response = raw_get(sandbox, f"leads?page={page}")
        response.read()
        connection.close()
        with lock:
            statuses.append(response.status)

    threads = [threading.Thread(target=fetch, args=(i % 5 + 1,)) for i in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert Counter(statuses) == {503: 10, 200: 15}
    assert Counter(entry.fault for entry in sandbox.request_log) == {"Status": 10, None: 15}


# -- CLI spec parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("leads:3=status:503x2", ("leads", Status(503), 3, 2)),
        ("users=reset", ("users", Reset(), None, 1)),
        ("leads:2=delay:1.5", ("leads", Delay(1.5), 2, 1)),
        (
            "campaigns=status:429,Retry-After=3x4",
            ("campaigns", Status(429, {"Retry-After": "3"}), None, 4),
        ),
        ("leads=invalid-jsonx3", ("leads", InvalidJson(), None, 3)),
        ("leads:1=truncated", ("leads", Truncated(), 1, 1)),
        ("leads=missing_resource_key", ("leads", MissingResourceKey(), None, 1)),
        ("leads=error_envelope", ("leads", ErrorEnvelope(), None, 1)),
        ("leads=empty_page_has_morex1000", ("leads", EmptyPageHasMore(), None, 1000)),
        ("leads:4=duplicate_record", ("leads", DuplicateRecord(), 4, 1)),
    ],
)
def test_parse_fault_spec(spec: str, expected: tuple[str, Fault, int | None, int]) -> None:
    assert tuple(parse_fault_spec(spec)) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "leads",
        "leads=",
        "leads=bogus",
        "leads:0=reset",
        "leads=resetx0",
        "leads=status",
        "leads=status:abc",
        "leads=status:200",
        "leads=delay",
        "leads=delay:-1",
        "leads=reset:1",
        "leads=status:429,Retry-After",
        "Leads=reset",
    ],
)
def test_parse_fault_spec_rejects(spec: str) -> None:
    with pytest.raises(ValueError, match="bad fault"):
        parse_fault_spec(spec)
