"""Nothing hangs: every request has an overall deadline, every wait is capped and logged."""

from __future__ import annotations

import math
import time
from itertools import pairwise

import dagster as dg
import pytest

from analytics_assets.sandbox import Headers, SandboxServer, Status, Trickle
from analytics_assets_tests.conftest import (
    Serve,
    configure,
    run_sync,
    step_failure,
)

TIMEOUT_S = 1.0
BACKOFF = 0.1  # waits of 0.1 s, then 0.2 s


@pytest.fixture
def server(serve: Serve) -> SandboxServer:
    configure(ANALYTICS_API_TIMEOUT_S=str(TIMEOUT_S), ANALYTICS_API_BACKOFF_FACTOR=str(BACKOFF))
    return serve(leads=300)


def _times(server: SandboxServer, resource: str, page: int) -> list[float]:
    return [e.time for e in server.request_log if e.resource == resource and e.page == page]


def _logged(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(result.run_id)]


@pytest.mark.parametrize("headers", [False, True], ids=["body", "headers_and_body"])
def test_a_trickled_answer_ends_at_the_deadline_and_is_retried(
    server: SandboxServer, headers: bool
) -> None:
    server.inject("leads", Trickle(0.05, headers=headers), page=2)  # ~45 min if left to run
    instance = dg.DagsterInstance.ephemeral()

    result = run_sync(instance)

    assert result.success, step_failure(result)
    first, second = _times(server, "leads", 2)
    assert second - first == pytest.approx(TIMEOUT_S + BACKOFF, abs=0.5)
    retry = [m for m in _logged(instance, result) if "leads?page=2 failed" in m]
    assert len(retry) == 1
    assert f"no complete answer within {TIMEOUT_S:g} s (ANALYTICS_API_TIMEOUT_S" in retry[0]
    assert f"retrying in {BACKOFF:.1f} s (exponential backoff)" in retry[0]


def test_a_rate_limit_reset_far_ahead_fails_at_once_instead_of_sleeping(
    server: SandboxServer,
) -> None:
    reset = str(math.ceil(time.time()) + 86_400)
    spent = Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    server.inject("users", spent, page=1, times=3)  # every attempt of the step
    configure(ANALYTICS_API_MAX_CONCURRENCY="1")  # users first (in flight: concurrent tests)

    started = time.monotonic()
    result = run_sync()

    assert not result.success
    assert time.monotonic() - started < 60  # no day-long sleep (bounded, not a timing test)
    message = step_failure(result)
    assert "the API's rate limit is spent for another 86" in message
    assert "cap (ANALYTICS_API_MAX_WAIT_S); run again later" in message
    statuses = [(e.resource, e.page) for e in server.request_log]
    assert statuses == [("users", 1)] * 3  # nothing asked while the budget was spent


def test_a_reset_in_epoch_milliseconds_is_waited_for_and_logged(server: SandboxServer) -> None:
    reset_s = time.time() + 3
    server.inject(
        "users",
        Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(reset_s * 1000))}),
        page=1,
    )
    configure(ANALYTICS_API_MAX_CONCURRENCY="1")  # users first (in flight: concurrent tests)
    wall_minus_monotonic = time.time() - time.monotonic()
    instance = dg.DagsterInstance.ephemeral()

    result = run_sync(instance)

    assert result.success, step_failure(result)
    first, second, *_ = sorted(e.time for e in server.request_log)
    assert second + wall_minus_monotonic >= reset_s - 0.01  # not one request before the reset
    assert second - first < 10  # read as milliseconds, not as 1.8e12 seconds
    waits = [m for m in _logged(instance, result) if m.startswith("rate limit: waiting")]
    assert len(waits) == 1 and "for the API's rate-limit window to reset" in waits[0]


def test_a_retry_after_beyond_the_cap_fails_at_once_naming_the_header(
    server: SandboxServer,
) -> None:
    configure(ANALYTICS_API_MAX_WAIT_S="60")
    server.inject("campaigns", Status(429, headers={"Retry-After": "3600"}), page=1, times=3)

    result = run_sync()

    assert not result.success
    message = step_failure(result)
    assert (
        f"campaigns: GET {server.base_url}campaigns answered 429 and asked to wait 3600 s "
        "(Retry-After: 3600), more than the 60 s cap (ANALYTICS_API_MAX_WAIT_S)"
    ) in message
    times = _times(server, "campaigns", 1)
    assert len(times) == 3  # one request per step attempt: no in-step wait of an hour
    assert all(b - a < 30 for a, b in pairwise(times))
