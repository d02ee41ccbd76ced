"""ApiSession over real HTTP on loopback: retries, waits, the deadline and the origin rule."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from analytics_assets.api.deadline import WATCHDOG
from analytics_assets.api.errors import ForeignOriginError, ResponseDeadlineExceeded, WaitTooLong
from analytics_assets.api.http import MAX_REDIRECTS, ApiSession, HttpPolicy, origin, server_wait
from analytics_assets.api.ratelimit import RateLimiter
from analytics_assets.sandbox import (
    InvalidJson,
    Redirect,
    SandboxConfig,
    SandboxServer,
    Status,
    Trickle,
)

KEY = "http-test-key-1234"


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(api_key=KEY, users=5, leads=20, campaigns=2)) as server:
        yield server


@pytest.fixture
def server(shared: SandboxServer) -> Iterator[SandboxServer]:
    shared.clear_faults()
    shared.clear_log()
    yield shared
    shared.clear_faults()


def _session(server: SandboxServer, lines: list[str] | None = None, **policy: float) -> ApiSession:
    log = lines.append if lines is not None else (lambda line: None)
    settings = {"backoff_factor": 0.01, "timeout_s": 1.0, **policy}
    session = ApiSession(server.base_url, HttpPolicy(**settings), RateLimiter(), log=log)
    session.headers["x-api-key"] = KEY
    return session


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://API.example.com/v1/", ("https", "api.example.com:443")),
        ("https://api.example.com:443/v1/leads?page=2", ("https", "api.example.com:443")),
        ("http://api.example.com/v1/", ("http", "api.example.com:80")),
        ("http://127.0.0.1:8080/", ("http", "127.0.0.1:8080")),
    ],
)
def test_origin_is_scheme_host_and_port(url: str, expected: tuple[str, str]) -> None:
    assert origin(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/v1/leads?page=2",  # https -> http: a downgrade
        "https://api.example.com:8443/v1/leads",  # another port
        "https://evil.example.com/v1/leads",  # another host
    ],
)
def test_nothing_leaves_for_another_origin(url: str) -> None:
    session = ApiSession("https://api.example.com/v1/", HttpPolicy(), RateLimiter())
    session.headers["x-api-key"] = KEY

    with pytest.raises(ForeignOriginError, match="not the API's origin https://api.example.com"):
        session.get(url)


def test_a_503_is_retried_and_the_wait_is_logged(server: SandboxServer) -> None:
    server.inject("users", Status(503), page=1, times=2)
    lines: list[str] = []

    response = _session(server, lines).get(server.base_url + "users")

    assert response.status_code == 200
    assert [e.status for e in server.request_log] == [503, 503, 200]
    assert lines == [
        f"GET {server.base_url}users answered 503 (attempt 1 of 3); retrying in 0.0 s "
        "(exponential backoff)",
        f"GET {server.base_url}users answered 503 (attempt 2 of 3); retrying in 0.0 s "
        "(exponential backoff)",
    ]


def test_after_the_last_attempt_the_last_answer_is_returned(server: SandboxServer) -> None:
    server.inject("users", Status(502), page=1, times=3)

    response = _session(server).get(server.base_url + "users")

    assert response.status_code == 502
    assert len(server.request_log) == 3


def test_a_200_that_is_not_json_is_retried(server: SandboxServer) -> None:
    server.inject("users", InvalidJson(), page=1)

    response = _session(server).get(server.base_url + "users")

    assert [e.fault for e in server.request_log] == ["InvalidJson", None]
    assert [user["id"] for user in response.json()["users"]] == [
        user["id"] for user in server.records("users")
    ]


def test_a_trickled_body_ends_at_the_deadline_on_every_attempt(server: SandboxServer) -> None:
    server.inject("users", Trickle(0.05), page=1, times=3)
    session = _session(server, timeout_s=0.5)

    started = time.monotonic()
    with pytest.raises(ResponseDeadlineExceeded, match=r"no complete answer within 0.5 s"):
        session.get(server.base_url + "users")

    assert time.monotonic() - started < 10  # three deadlines and two short waits, not hours
    assert len(server.request_log) == 3


def test_retry_after_as_an_http_date_is_honoured(server: SandboxServer) -> None:
    server.inject("users", Status(503, headers={"Retry-After": formatdate(time.time() + 2)}))

    _session(server).get(server.base_url + "users")

    first, second = (e.time for e in server.request_log)
    assert second - first == pytest.approx(2, abs=1.0)  # whole seconds in an HTTP date


def test_a_wait_beyond_the_cap_raises_at_once(server: SandboxServer) -> None:
    server.inject("users", Status(429, headers={"Retry-After": "600"}))

    with pytest.raises(WaitTooLong, match=r"asked to wait 600 s \(Retry-After: 600\)"):
        _session(server, max_wait_s=30).get(server.base_url + "users")

    assert len(server.request_log) == 1


@pytest.mark.parametrize(
    ("headers", "status", "expected"),
    [
        ({"Retry-After": "7"}, 503, (7.0, "Retry-After: 7")),
        ({"X-RateLimit-Reset": "1800000030"}, 429, (30.0, "X-RateLimit-Reset: 1800000030")),
        ({"X-RateLimit-Reset": "1800000030000"}, 429, (30.0, "X-RateLimit-Reset: 1800000030000")),
        ({"X-RateLimit-Reset": "1800000030"}, 503, None),  # the reset only explains a 429
        ({"Retry-After": "soon"}, 503, None),
        ({"Retry-After": "\u00b2"}, 503, None),  # a Unicode digit float() refuses
    ],
)
def test_server_wait_reads_the_headers(
    headers: dict[str, str], status: int, expected: tuple[float, str] | None
) -> None:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)

    assert server_wait(response, now=1_800_000_000.0) == expected


def test_redirects_share_the_first_requests_deadline(server: SandboxServer) -> None:
    """requests follows a redirect by sending again from inside send: no hop gets a fresh one."""
    again = Redirect(server.base_url + "users")
    for fault in (again, again, again, Trickle(0.05)):  # three hops, then a body that trickles
        server.inject("users", fault, page=1)
    session = _session(server, timeout_s=1.0)

    response = session.get(server.base_url + "users")

    assert response.status_code == 200
    log = server.request_log
    assert [e.fault for e in log] == ["Redirect"] * 3 + ["Trickle", None]
    # the first attempt ended one deadline after it started, whatever its hops did
    assert log[4].time - log[0].time == pytest.approx(1.0, abs=0.4)


def test_too_many_redirects_end_the_request(server: SandboxServer) -> None:
    server.inject("users", Redirect(server.base_url + "users"), page=1, times=100)

    with pytest.raises(requests.TooManyRedirects):
        _session(server).get(server.base_url + "users")

    assert len(server.request_log) == MAX_REDIRECTS + 1


def test_the_watchdog_outlives_a_deadline_beyond_what_the_os_can_wait(
    server: SandboxServer,
) -> None:
    with WATCHDOG.bound(1e12):
        _session(server).get(server.base_url + "users")
    server.inject("users", Trickle(0.05), page=1, times=3)

    with pytest.raises(ResponseDeadlineExceeded):
        _session(server, timeout_s=0.3).get(server.base_url + "users")


def test_a_redirect_hop_that_waits_for_the_pace_past_the_deadline_ends_there(
    server: SandboxServer,
) -> None:
    server.inject("users", Redirect(server.base_url + "users"), page=1)
    session = ApiSession(
        server.base_url,
        HttpPolicy(max_attempts=1, timeout_s=1.0),
        RateLimiter(requests_per_minute=30),  # a request every 2 s: the hop starts too late
    )
    session.headers["x-api-key"] = KEY

    started = time.monotonic()
    with pytest.raises(ResponseDeadlineExceeded):
        session.get(server.base_url + "users")

    assert time.monotonic() - started < 4
    assert [e.fault for e in server.request_log] == ["Redirect"]  # the hop never left


class _ForwardingProxy(BaseHTTPRequestHandler):
    """A plain HTTP proxy on loopback: records each request line's URL and forwards it."""

    disable_nagle_algorithm = True
    seen: list[str]

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.append(self.path)  # a proxy is sent the absolute URL
        target = urlsplit(self.path)
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
        headers = {name: value for name, value in self.headers.items() if name != "Host"}
        upstream.request("GET", f"{target.path}?{target.query}", headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Recording", (_ForwardingProxy,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def test_every_request_of_a_session_goes_through_the_environments_proxy(
    server: SandboxServer, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session reads the proxy variables once per origin, and still applies them to
    every request to it, not only the first."""
    proxy_url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = _session(server)

    leads = session.get(server.base_url + "leads").json()
    users = session.get(server.base_url + "users").json()

    assert seen == [server.base_url + "leads", server.base_url + "users"]
    assert (len(leads["leads"]), len(users["users"])) == (20, 5)
    assert len(server.request_log) == 2


def test_an_explicit_proxy_setting_is_not_replaced_by_the_cached_environment(
    server: SandboxServer, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_url, seen = proxy
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    session = _session(server)
    session.get(server.base_url + "users")  # the environment (no proxy) is now cached

    answer = session.get(server.base_url + "users", proxies={"http": proxy_url})

    assert answer.status_code == 200
    assert seen == [server.base_url + "users"]
    assert len(server.request_log) == 2
