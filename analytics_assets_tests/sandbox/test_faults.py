"""Fault injection over real HTTP on loopback, observed by plain clients (requests, http.client)."""

from __future__ import annotations

import copy
import http.client
import json
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from analytics_assets.sandbox import (
    Delay,
    DuplicateRecord,
    EmptyPageHasMore,
    ErrorEnvelope,
    Fault,
    ForeignNextPage,
    HasMoreWithoutNextPage,
    Headers,
    InvalidJson,
    LoggedRequest,
    MissingResourceKey,
    PatchRecord,
    Redirect,
    RelativeNextPage,
    RepeatedPage,
    ReplaceRecord,
    Reset,
    SandboxConfig,
    SandboxServer,
    Status,
    Trickle,
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


def test_status_sets_the_reset_when_it_answers(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", Status(429, reset_in_s=4))
    sandbox.inject("leads", Status(429, reset_in_s=4))
    before = time.time()
    first = get(session, sandbox, "leads")
    time.sleep(1.0)  # the second answer's reset is counted from when it is served
    served = time.time()
    second = get(session, sandbox, "leads")
    after = time.time()

    first_reset = int(first.headers["X-RateLimit-Reset"])
    second_reset = int(second.headers["X-RateLimit-Reset"])
    assert before + 4 <= first_reset <= math.ceil(served + 4)
    assert served + 4 <= second_reset <= math.ceil(after + 4)


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


# -- raw sockets, handler threads ----------------------------------------------------------------


def send_raw(server: SandboxServer, target: str, timeout: float = 5) -> socket.socket:
    """A socket that has sent ``GET /v1/<target>``; the caller reads and closes."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    request = f"GET /v1/{target} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {KEY}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def read_until(sock: socket.socket, done: Callable[[bytes], bool]) -> bytes:
    """Receive until ``done(received)`` or EOF; each recv is bounded by the socket timeout."""
    data = b""
    while not done(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def has_head(data: bytes) -> bool:
    return b"\r\n\r\n" in data


def split_head(data: bytes) -> tuple[list[str], bytes]:
    """The status line and header lines, and what followed the blank line."""
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n"), rest


def full_response(data: bytes) -> bool:
    """Whether ``data`` holds a head and the whole Content-Length body."""
    if not has_head(data):
        return False
    lines, rest = split_head(data)
    length = next(int(line.split(":")[1]) for line in lines if line.startswith("Content-Length"))
    return len(rest) >= length


def handler_threads() -> set[threading.Thread]:
    """The live connection-handler threads of every sandbox in this process."""
    return {t for t in threading.enumerate() if t.name.endswith("(process_request_thread)")}


def compact(body: Any) -> bytes:
    """``body`` as the sandbox serializes JSON."""
    return json.dumps(body, separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def tiny() -> Iterator[SandboxServer]:
    """Campaigns answer an 81-byte body: trickled at 10 ms a byte, under a second."""
    with SandboxServer(SandboxConfig(users=1, leads=3, campaigns=0, page_size=PAGE_SIZE)) as server:
        yield server


@pytest.fixture(scope="module")
def token_server() -> Iterator[SandboxServer]:
    config = SandboxConfig(users=2, leads=120, campaigns=1, page_size=PAGE_SIZE, page_mode="token")
    with SandboxServer(config) as server:
        yield server


# -- Truncated without Content-Length ------------------------------------------------------------


def test_truncated_close_sends_half_a_close_delimited_body(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    normal = get(session, sandbox, "leads", 3).content
    sandbox.clear_log()
    sandbox.inject("leads", Truncated(content_length=False), page=3, times=2)
    with send_raw(sandbox, "leads?page=3") as sock:
        lines, body = split_head(read_until(sock, lambda _: False))  # until the server closes
    assert lines == [
        "HTTP/1.1 200 OK",
        "Content-Type: application/json; charset=utf-8",
        "Connection: close",
    ]
    assert body == normal[: len(normal) // 2]
    response = get(session, sandbox, "leads", 3)  # reads as complete: no error from requests
    assert response.status_code == 200 and response.content == normal[: len(normal) // 2]
    assert "Content-Length" not in response.headers
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    assert get(session, sandbox, "leads", 3).content == normal
    assert log_of(sandbox) == [(3, 0, "Truncated"), (3, 0, "Truncated"), (3, 200, None)]


# -- Trickle ------------------------------------------------------------------------------------


def test_trickle_outlasts_a_per_read_timeout(
    session: requests.Session, tiny: SandboxServer
) -> None:
    normal = get(session, tiny, "campaigns")
    assert len(normal.content) == 81
    tiny.clear_log()
    tiny.inject("campaigns", Trickle(0.01))
    started = time.monotonic()
    response = session.get(
        tiny.base_url + "campaigns", headers={"x-api-key": KEY}, timeout=(5, 0.25), stream=True
    )
    head_after = time.monotonic() - started
    content = response.content  # every read waits ~10 ms, far below the 0.25 s read timeout
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and content == normal.content
    assert response.headers["Content-Length"] == "81"
    assert head_after < 0.25  # the head is not trickled
    assert 81 * 0.01 * 0.95 <= elapsed < 81 * 0.01 + 1.5
    assert log_of(tiny) == [(1, 200, "Trickle")]
    assert get(session, tiny, "campaigns").content == normal.content  # one use, then normal


def test_trickle_headers_trickles_the_status_line_and_headers_too(tiny: SandboxServer) -> None:
    with send_raw(tiny, "campaigns") as sock:
        normal = read_until(sock, full_response)
    head = normal[: normal.index(b"\r\n\r\n") + 4]
    assert (len(head), len(normal)) == (86, 167)
    tiny.inject("campaigns", Trickle(0.005, headers=True))
    started = time.monotonic()
    with send_raw(tiny, "campaigns", timeout=0.25) as sock:
        received = read_until(sock, has_head)
        head_after = time.monotonic() - started
        received += read_until(sock, lambda data: len(received + data) >= len(normal))
        elapsed = time.monotonic() - started
    assert received == normal
    assert head_after >= (len(head) - 1) * 0.005 * 0.95
    assert (len(normal) - 1) * 0.005 * 0.95 <= elapsed < len(normal) * 0.005 + 1.5


def test_trickle_stops_when_the_server_stops() -> None:
    server = SandboxServer(SandboxConfig(users=1, leads=60, campaigns=0, page_size=PAGE_SIZE))
    server.start()
    try:
        with send_raw(server, "leads") as sock:
            normal = split_head(read_until(sock, full_response))[1]
        server.inject("leads", Trickle(5.0))  # the head at once, then 5 s before each byte
        before = handler_threads()
        with send_raw(server, "leads") as sock:
            lines, received = split_head(read_until(sock, has_head))
            assert f"Content-Length: {len(normal)}" in lines
            (handler,) = handler_threads() - before
            started = time.monotonic()
            server.stop()
            stopped_after = time.monotonic() - started
            handler.join(timeout=5)
            ended_after = time.monotonic() - started
            received += read_until(sock, lambda _: False)  # EOF, not the rest of the body
    finally:
        server.stop()
    assert not handler.is_alive()
    assert stopped_after < 1 and ended_after < 1  # the 5 s wait was cut short
    assert received == b""


def test_trickle_stops_when_the_client_hangs_up(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    normal = get(session, sandbox, "leads").content
    sandbox.clear_log()
    sandbox.inject("leads", Trickle(0.02))
    before = handler_threads()
    with send_raw(sandbox, "leads") as sock:
        received = split_head(read_until(sock, lambda data: len(split_head(data)[1]) >= 3))[1]
        (handler,) = handler_threads() - before
    started = time.monotonic()  # the socket is closed: the next write or two fail
    handler.join(timeout=5)
    assert not handler.is_alive() and time.monotonic() - started < 1
    assert received == normal[: len(received)]
    assert get(session, sandbox, "leads").content == normal
    assert log_of(sandbox) == [(1, 200, "Trickle"), (1, 200, None)]


def test_trickle_validates() -> None:
    for interval in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="interval_s"):
            Trickle(interval)


# -- next_page faults ----------------------------------------------------------------------------


@pytest.mark.parametrize("next_page", [None, ""])
@pytest.mark.parametrize("page", [2, 5])
def test_has_more_without_next_page(
    session: requests.Session, sandbox: SandboxServer, page: int, next_page: str | None
) -> None:
    normal = get(session, sandbox, "leads", page).json()
    sandbox.inject("leads", HasMoreWithoutNextPage(next_page), page=page)
    response = get(session, sandbox, "leads", page)
    assert response.status_code == 200
    assert response.content == compact({**normal, "has_more": True, "next_page": next_page})
    assert ids(response.json()) == lead_ids(sandbox, page)


def test_has_more_without_next_page_on_a_bare_envelope(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    normal = get(session, sandbox, "users").json()
    assert list(normal) == ["status", "errors", "users"]
    sandbox.inject("users", HasMoreWithoutNextPage())
    expected = {"status": "success", "errors": [], "has_more": True, "next_page": None}
    assert get(session, sandbox, "users").content == compact({**expected, **normal})


def test_foreign_next_page_keeps_path_and_query(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    normal = get(session, sandbox, "leads", 2).json()
    last = get(session, sandbox, "leads", 5).content
    sandbox.inject("leads", ForeignNextPage("http://127.0.0.1:9"), page=2)
    sandbox.inject("leads", ForeignNextPage("https://evil.example/"), page=5)
    response = get(session, sandbox, "leads", 2)
    expected = {**normal, "next_page": "http://127.0.0.1:9/v1/leads?page=3"}
    assert response.content == compact(expected)
    assert get(session, sandbox, "leads", 5).content == last  # no next_page to move
    assert [entry.fault for entry in sandbox.request_log][-2:] == [
        "ForeignNextPage",
        "ForeignNextPage",
    ]


def test_foreign_next_page_in_token_mode_is_an_absolute_url(
    session: requests.Session, token_server: SandboxServer
) -> None:
    normal = get(session, token_server, "leads").json()
    cursor = normal["next_page"]
    token_server.inject("leads", ForeignNextPage("https://evil.example:8443"))
    body = get(session, token_server, "leads").json()
    assert body == {**normal, "next_page": f"https://evil.example:8443/v1/leads?next_page={cursor}"}
    # The same path and query on the sandbox's own origin is the page the cursor names.
    own = urljoin(token_server.base_url, "/" + body["next_page"].split("/", 3)[3])
    following = session.get(own, headers={"x-api-key": KEY}, timeout=5)
    assert following.content == get(session, token_server, "leads", next_page=cursor).content


@pytest.mark.parametrize(
    "origin", ["127.0.0.1:9", "ftp://host", "http://", "http://h/v1", "http://h?a=1"]
)
def test_foreign_next_page_validates(origin: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        ForeignNextPage(origin)


def test_relative_next_page(session: requests.Session, sandbox: SandboxServer) -> None:
    normal = get(session, sandbox, "leads", 2).json()
    last = get(session, sandbox, "leads", 5).content
    users = get(session, sandbox, "users").content
    sandbox.inject("leads", RelativeNextPage(), page=2)
    sandbox.inject("leads", RelativeNextPage(), page=5)
    sandbox.inject("users", RelativeNextPage())
    response = get(session, sandbox, "leads", 2)
    assert response.content == compact({**normal, "next_page": "/v1/leads?page=3"})
    following = session.get(
        urljoin(response.url, response.json()["next_page"]), headers={"x-api-key": KEY}, timeout=5
    )
    assert ids(following.json()) == lead_ids(sandbox, 3)
    assert get(session, sandbox, "leads", 5).content == last
    assert get(session, sandbox, "users").content == users  # bare: no next_page at all


def test_relative_next_page_in_token_mode(
    session: requests.Session, token_server: SandboxServer
) -> None:
    normal = get(session, token_server, "leads").json()
    token_server.inject("leads", RelativeNextPage())
    body = get(session, token_server, "leads").json()
    assert body == {**normal, "next_page": "/v1/leads?page=2"}
    following = session.get(
        urljoin(token_server.base_url, body["next_page"]), headers={"x-api-key": KEY}, timeout=5
    )
    cursor_page = get(session, token_server, "leads", next_page=normal["next_page"])
    assert following.status_code == 200 and following.content == cursor_page.content


# -- Redirect and Headers ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_answers_location_and_an_empty_object(sandbox: SandboxServer, status: int) -> None:
    sandbox.inject("leads", Redirect("http://127.0.0.1:9/v1/leads?page=2", status))
    connection, response = raw_get(sandbox, "leads")
    assert response.status == status
    assert response.getheaders() == [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", "2"),
        ("Location", "http://127.0.0.1:9/v1/leads?page=2"),
    ]
    assert response.read() == b"{}"
    connection.close()
    assert log_of(sandbox) == [(1, status, "Redirect")]


def test_redirect_is_followed_by_requests(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", Redirect(sandbox.base_url + "leads?page=2"))
    response = get(session, sandbox, "leads")
    assert [r.status_code for r in response.history] == [302]
    assert response.status_code == 200 and ids(response.json()) == lead_ids(sandbox, 2)
    assert log_of(sandbox) == [(1, 302, "Redirect"), (2, 200, None)]


def test_redirect_validates() -> None:
    with pytest.raises(ValueError, match="300..399"):
        Redirect("/v1/leads", 200)
    with pytest.raises(ValueError, match="one-line"):
        Redirect("/v1/leads\r\nX-Evil: 1")


def test_headers_add_and_replace(sandbox: SandboxServer) -> None:
    connection, response = raw_get(sandbox, "leads?page=2")
    normal = response.read()
    reset = str(int(time.time()) + 3600)
    sandbox.inject("leads", Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    sandbox.inject("leads", Headers({"content-type": "text/html", "Connection": "close"}))
    connection.request("GET", "/v1/leads?page=2", headers={"x-api-key": KEY})
    response = connection.getresponse()
    assert response.status == 200 and response.read() == normal
    assert response.getheaders() == [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", str(len(normal))),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", reset),
    ]
    connection.request("GET", "/v1/leads?page=2", headers={"x-api-key": KEY})
    response = connection.getresponse()
    assert response.read() == normal
    assert response.getheaders() == [
        ("Content-Length", str(len(normal))),
        ("content-type", "text/html"),
        ("Connection", "close"),
    ]
    connection.close()
    assert log_of(sandbox) == [(2, 200, None), (2, 200, "Headers"), (2, 200, "Headers")]


def test_headers_replace_the_rate_limiters(session: requests.Session) -> None:
    config = SandboxConfig(users=2, leads=10, campaigns=1, rate_limit=50)
    with SandboxServer(config) as server:
        server.inject("leads", Headers({"x-ratelimit-remaining": "0"}))
        response = get(session, server, "leads")
        normal = get(session, server, "leads")
    assert response.status_code == 200 and response.content == normal.content
    limits = sorted(k for k in response.raw.headers if k.lower().startswith("x-ratelimit"))
    assert limits == ["X-RateLimit-Limit", "X-RateLimit-Reset", "x-ratelimit-remaining"]
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert normal.headers["X-RateLimit-Remaining"] == "48"


def test_headers_validate() -> None:
    with pytest.raises(ValueError, match="header name"):
        Headers({"Bad Name": "1"})
    with pytest.raises(ValueError, match="one-line"):
        Headers({"X-Ok": "a\nb"})


# -- record faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["l_replaced", [1, 2], None, {"id": "l_other"}, 7])
def test_replace_record(session: requests.Session, sandbox: SandboxServer, value: Any) -> None:
    normal = get(session, sandbox, "leads", 2).json()
    sandbox.inject("leads", ReplaceRecord(3, value), page=2)
    rows = list(normal["leads"])
    rows[3] = value
    assert get(session, sandbox, "leads", 2).content == compact({**normal, "leads": rows})
    assert sandbox.served_record("leads", 2, 3) == normal["leads"][3]


def test_replace_record_past_the_page_serves_it_unchanged(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    normal, empty = get(session, sandbox, "leads", 2).content, get(session, sandbox, "leads", 6)
    assert empty.json()["leads"] == []
    sandbox.inject("leads", ReplaceRecord(PAGE_SIZE, None), page=2)
    sandbox.inject("leads", ReplaceRecord(0, None), page=6)
    assert get(session, sandbox, "leads", 2).content == normal
    assert get(session, sandbox, "leads", 6).content == empty.content
    assert sandbox.served_record("leads", 2, PAGE_SIZE) is None
    assert sandbox.served_record("leads", 6, 0) is None
    with pytest.raises(ValueError, match="0-based"):
        ReplaceRecord(-1, None)


def patched(record: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    record = copy.deepcopy(record)
    change(record)
    return record


@pytest.mark.parametrize(
    ("fault", "change"),
    [
        (PatchRecord(3, ("data",)), lambda r: r.update(data=None)),
        (PatchRecord(3, "status", {"name": "x"}), lambda r: r.update(status={"name": "x"})),
        (PatchRecord(3, ("sent_count",), 2**70), lambda r: r.update(sent_count=2**70)),
        (PatchRecord(3, ("id",), remove=True), lambda r: r.pop("id")),
        (PatchRecord(3, ("data", "email"), None), lambda r: r["data"].update(email=None)),
        (PatchRecord(3, ("data", "email"), remove=True), lambda r: r["data"].pop("email")),
        (PatchRecord(3, ("owner_id", "name"), "x"), lambda r: r.update(owner_id={"name": "x"})),
        (PatchRecord(3, ("extra", "deep"), []), lambda r: r.update(extra={"deep": []})),
    ],
)
def test_patch_record(
    session: requests.Session,
    sandbox: SandboxServer,
    fault: PatchRecord,
    change: Callable[[dict[str, Any]], None],
) -> None:
    normal = get(session, sandbox, "leads", 2).json()
    sandbox.inject("leads", fault, page=2)
    rows = list(normal["leads"])
    rows[3] = patched(rows[3], change)
    assert get(session, sandbox, "leads", 2).content == compact({**normal, "leads": rows})


def test_patch_record_sends_big_integers_exactly_and_hides_an_id(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    sandbox.inject("leads", PatchRecord(3, ("sent_count",), 2**70), page=2)
    sandbox.inject("leads", PatchRecord(3, ("id",), remove=True), page=2)
    big = get(session, sandbox, "leads", 2)
    assert big.content.count(b'"sent_count":1180591620717411303424,') == 1
    assert big.json()["leads"][3]["sent_count"] == 1180591620717411303424
    hidden = sandbox.served_record("leads", 2, 3)
    assert hidden is not None and hidden["id"] == lead_ids(sandbox, 2)[3]
    rows = get(session, sandbox, "leads", 2).json()["leads"]
    assert "id" not in rows[3] and hidden["id"] not in [row.get("id") for row in rows]
    assert rows[3] == {key: value for key, value in hidden.items() if key != "id"}


def test_patch_record_without_a_target_serves_the_page_unchanged(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    normal = get(session, sandbox, "leads", 2).content
    sandbox.inject("leads", PatchRecord(3, ("nope",), remove=True), page=2)
    sandbox.inject("leads", PatchRecord(3, ("status", "name"), remove=True), page=2)
    sandbox.inject("leads", PatchRecord(PAGE_SIZE, ("id",), remove=True), page=2)
    assert [get(session, sandbox, "leads", 2).content for _ in range(3)] == [normal] * 3
    assert [entry.fault for entry in sandbox.request_log][1:] == ["PatchRecord"] * 3


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, ()), {}, "path"),
        ((0, (1,)), {}, "path"),
        ((0, ("id",), 1), {"remove": True}, "not both"),
        ((-1, ("id",)), {}, "0-based"),
    ],
)
def test_patch_record_validates(args: tuple[Any, ...], kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PatchRecord(*args, **kwargs)
    assert PatchRecord(0, "id") == PatchRecord(0, ["id"]) == PatchRecord(0, ("id",))  # type: ignore[arg-type]


def test_repeated_page_loses_a_page_of_records(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    normal = [get(session, sandbox, "leads", page).json() for page in range(1, 6)]
    sandbox.clear_log()
    sandbox.inject("leads", RepeatedPage(), page=3)
    sandbox.inject("leads", RepeatedPage(), page=1)  # no previous page: unchanged
    walked = [get(session, sandbox, "leads", page).json() for page in range(1, 6)]
    assert walked[2] == {**normal[2], "leads": normal[1]["leads"]}
    assert walked[2]["next_page"] == f"{sandbox.base_url}leads?page=4"
    assert [body for i, body in enumerate(walked) if i != 2] == normal[:2] + normal[3:]
    served = Counter(i for body in walked for i in ids(body))
    everything = {lead["id"] for lead in sandbox.records("leads")}
    assert set(served) == everything - set(lead_ids(sandbox, 3))
    assert sorted(i for i, n in served.items() if n > 1) == sorted(lead_ids(sandbox, 2))
    assert [entry.fault for entry in sandbox.request_log] == [
        "RepeatedPage",
        None,
        "RepeatedPage",
        None,
        None,
    ]


def test_repeated_page_from_a_given_source(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    page4, page2 = get(session, sandbox, "leads", 4).json(), get(session, sandbox, "leads", 2)
    sandbox.inject("leads", RepeatedPage(1), page=4)
    sandbox.inject("leads", RepeatedPage(9), page=2)
    sandbox.inject("leads", RepeatedPage(2), page=2)
    assert get(session, sandbox, "leads", 4).content == compact(
        {**page4, "leads": sandbox.records("leads")[:PAGE_SIZE]}
    )
    assert get(session, sandbox, "leads", 2).content == compact({**page2.json(), "leads": []})
    assert get(session, sandbox, "leads", 2).content == page2.content  # its own records
    with pytest.raises(ValueError, match="source"):
        RepeatedPage(0)


def test_repeated_page_follows_the_updated_after_filter(
    session: requests.Session, sandbox: SandboxServer
) -> None:
    since = "2024-07-01T00:00:00Z"
    page1 = get(session, sandbox, "leads", 1, updated_after=since).json()
    page2 = get(session, sandbox, "leads", 2, updated_after=since).json()
    sandbox.inject("leads", RepeatedPage(), page=2)
    body = get(session, sandbox, "leads", 2, updated_after=since).json()
    assert body == {**page2, "leads": page1["leads"]}


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
        ("leads:3=truncated_close", ("leads", Truncated(content_length=False), 3, 1)),
        ("leads=has_more_without_next_page", ("leads", HasMoreWithoutNextPage(), None, 1)),
        (
            "leads=has-more-without-next-page:emptyx2",
            ("leads", HasMoreWithoutNextPage(""), None, 2),
        ),
        ("leads=trickle", ("leads", Trickle(), None, 1)),
        ("leads:2=trickle:0.5x3", ("leads", Trickle(0.5), 2, 3)),
        ("leads=trickle_headers", ("leads", Trickle(headers=True), None, 1)),
        ("leads=trickle_headers:0.01", ("leads", Trickle(0.01, headers=True), None, 1)),
        (
            "leads:2=foreign_next_page:http://127.0.0.1:9",
            ("leads", ForeignNextPage("http://127.0.0.1:9"), 2, 1),
        ),
        (
            "leads=foreign_next_page:https://evil.example/x2",
            ("leads", ForeignNextPage("https://evil.example/"), None, 2),
        ),
        ("leads=relative_next_page", ("leads", RelativeNextPage(), None, 1)),
        (
            "leads=redirect:http://127.0.0.1:9/v1/leads?page=2",
            ("leads", Redirect("http://127.0.0.1:9/v1/leads?page=2"), None, 1),
        ),
        ("leads=redirect:307,/v1/leadsx2", ("leads", Redirect("/v1/leads", 307), None, 2)),
        (
            "leads=headers:X-RateLimit-Remaining=0,X-RateLimit-Reset=4102444800",
            (
                "leads",
                Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4102444800"}),
                None,
                1,
            ),
        ),
        ('leads:2=replace_record:3,"l_x"', ("leads", ReplaceRecord(3, "l_x"), 2, 1)),
        ("leads=replace_record:0", ("leads", ReplaceRecord(0, None), None, 1)),
        ("leads=replace_record:1,[1,{}]x2", ("leads", ReplaceRecord(1, [1, {}]), None, 2)),
        ("leads=patch_record:0,id", ("leads", PatchRecord(0, ("id",), remove=True), None, 1)),
        (
            "leads=patch_record:4,data.email=null",
            ("leads", PatchRecord(4, ("data", "email"), None), None, 1),
        ),
        (
            "leads=patch_record:0,sent_count=1180591620717411303424",
            ("leads", PatchRecord(0, ("sent_count",), 2**70), None, 1),
        ),
        ("leads:3=repeated_page", ("leads", RepeatedPage(), 3, 1)),
        ("leads:4=repeated_page:1x2", ("leads", RepeatedPage(1), 4, 2)),
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
        "leads=truncated_close:1",
        "leads=has_more_without_next_page:null",
        "leads=trickle:0",
        "leads=trickle:abc",
        "leads=trickle_headers:-1",
        "leads=foreign_next_page",
        "leads=foreign_next_page:127.0.0.1:9",
        "leads=foreign_next_page:http://127.0.0.1:9/v1",
        "leads=relative_next_page:1",
        "leads=redirect",
        "leads=redirect:200,/v1/leads",
        "leads=headers",
        "leads=headers:X-RateLimit-Remaining",
        "leads=headers:Bad Name=1",
        "leads=replace_record",
        "leads=replace_record:a",
        "leads=replace_record:-1",
        "leads=replace_record:0,{bad",
        "leads=patch_record:0",
        "leads=patch_record:0,id=nope",
        "leads=repeated_page:0",
        "leads=repeated_page:a",
    ],
)
def test_parse_fault_spec_rejects(spec: str) -> None:
    with pytest.raises(ValueError, match="bad fault"):
        parse_fault_spec(spec)
