"""Rate-limited mode: fixed windows, X-RateLimit-* headers on every response, the API's 429."""

from __future__ import annotations

import math
import time

import pytest
import requests

from analytics_assets.sandbox import SandboxConfig, SandboxServer, Status
from analytics_assets.sandbox.ratelimit import RateLimiter, too_many_requests

KEY = "sandbox-key"
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
SMALL = {"users": 3, "leads": 120, "campaigns": 2, "page_size": 50}


def get(
    session: requests.Session, server: SandboxServer, path: str = "leads", key: str = KEY
) -> requests.Response:
    return session.get(server.base_url + path, headers={"x-api-key": key}, timeout=5)


def budget(response: requests.Response) -> tuple[int, int, int]:
    """(limit, remaining, reset) from the response's headers."""
    return tuple(int(response.headers[name]) for name in HEADERS)  # type: ignore[return-value]


def wait_until(epoch: int, timeout: float) -> None:
    """Poll the wall clock until it reaches ``epoch``; fail if that takes over ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.time() < epoch:
        assert time.monotonic() < deadline, f"clock did not reach {epoch} in {timeout} s"
        time.sleep(0.02)


# -- over HTTP ----------------------------------------------------------------------------------


def test_limit_429_and_a_fresh_budget_after_reset(session: requests.Session) -> None:
    config = SandboxConfig(**SMALL, rate_limit=5, rate_window_s=2.0)
    with SandboxServer(config) as server:
        opened = time.time()
        responses = [get(session, server) for _ in range(5)]
        assert [r.status_code for r in responses] == [200] * 5
        budgets = [budget(r) for r in responses]
        assert [remaining for _, remaining, _ in budgets] == [4, 3, 2, 1, 0]
        assert {limit for limit, _, _ in budgets} == {5}
        [reset] = {reset for _, _, reset in budgets}
        assert math.ceil(opened + 2.0) <= reset <= math.ceil(time.time() + 2.0)

        refused = get(session, server)
        assert refused.status_code == 429
        assert budget(refused) == (5, 0, reset)
        assert "Retry-After" not in refused.headers
        assert refused.json() == {
            "error": {
                "reason": "too_many_requests",
                "message": f"You performed more than 5 requests per minute. "
                f"Limit will be reseted at {reset}.",
            }
        }
        assert get(session, server, "campaigns").status_code == 429  # per key, not per endpoint

        wait_until(reset, timeout=4.0)
        fresh = get(session, server)
        assert fresh.status_code == 200
        limit, remaining, next_reset = budget(fresh)
        assert (limit, remaining) == (5, 4) and next_reset >= reset + 2
        assert [e.status for e in server.request_log] == [200] * 5 + [429, 429, 200]
        assert [e.fault for e in server.request_log] == [None] * 8


def test_unauthenticated_requests_carry_headers_but_count_nothing(
    session: requests.Session,
) -> None:
    with SandboxServer(SandboxConfig(**SMALL, rate_limit=2)) as server:
        denied = get(session, server, key="wrong")
        assert denied.status_code == 401 and budget(denied)[:2] == (2, 2)
        assert budget(get(session, server))[:2] == (2, 1)
        assert budget(get(session, server, "nope"))[:2] == (2, 0)  # a 404 with a key counts
        assert get(session, server).status_code == 429
        denied = get(session, server, key="wrong")
        assert denied.status_code == 401 and budget(denied)[:2] == (2, 0)


def test_faults_count_and_keep_the_headers(session: requests.Session) -> None:
    with SandboxServer(SandboxConfig(**SMALL, rate_limit=3)) as server:
        server.inject("leads", Status(503))
        server.inject("leads", Status(429, {"X-RateLimit-Reset": "123", "Retry-After": "1"}))
        faulted = get(session, server)
        assert faulted.status_code == 503 and budget(faulted)[:2] == (3, 2)
        own = get(session, server)
        assert own.status_code == 429 and own.headers["X-RateLimit-Reset"] == "123"
        assert own.headers["X-RateLimit-Remaining"] == "1"
        assert get(session, server).status_code == 200
        # Over the limit the limiter answers first, and queued faults wait.
        server.inject("leads", Status(500))
        assert get(session, server).status_code == 429
        assert len(server.pending_faults) == 1


def test_no_headers_without_a_limit(session: requests.Session) -> None:
    with SandboxServer(SandboxConfig(**SMALL)) as server:
        response = get(session, server)
    assert response.status_code == 200
    assert not [name for name in response.headers if name.lower().startswith("x-ratelimit")]


@pytest.mark.parametrize(
    "fields", [{"rate_limit": 0}, {"rate_window_s": 0}, {"rate_window_s": float("inf")}]
)
def test_config_rejects_bad_limits(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SandboxConfig(**fields)  # type: ignore[arg-type]


# -- the limiter on a fake clock ------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_windows_open_at_the_first_request_and_reset_rounds_up() -> None:
    clock = Clock(1000.25)
    limiter = RateLimiter(2, 10.0, clock)
    first = limiter.check()
    assert (first.allowed, first.reset) == (True, 1011)  # window ends 1010.25
    assert first.headers == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": "1011",
    }
    clock.now = 1005.0
    assert limiter.check().headers["X-RateLimit-Remaining"] == "0"
    clock.now = 1010.2
    assert not limiter.check().allowed
    clock.now = 1010.25  # the window's exact end: a new one opens here
    fresh = limiter.check()
    assert fresh.allowed and fresh.reset == 1021 and fresh.headers["X-RateLimit-Remaining"] == "1"


def test_a_client_waiting_until_reset_is_never_early() -> None:
    for start in (50.0, 53.7, 60.01, 71.999):
        clock = Clock(start)
        limiter = RateLimiter(1, 2.5, clock)
        verdict = limiter.check()
        assert verdict.allowed and not limiter.check().allowed
        clock.now = verdict.reset  # a client that waited exactly until the Reset header
        assert limiter.check().allowed, start


def test_uncounted_requests_never_refused() -> None:
    limiter = RateLimiter(1, 60.0, Clock(0.0))
    assert limiter.check().allowed and not limiter.check().allowed
    verdict = limiter.check(counted=False)
    assert verdict.allowed and verdict.headers["X-RateLimit-Remaining"] == "0"


def test_too_many_requests_body() -> None:
    assert too_many_requests(100, 1723456789) == (
        b'{"error":{"reason":"too_many_requests","message":"You performed more than 100 '
        b'requests per minute. Limit will be reseted at 1723456789."}}'
    )
