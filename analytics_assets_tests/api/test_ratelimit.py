"""RateLimiter: pacing to a rate, and waiting for the API's reset when its budget is spent."""

from pytest import approx

from analytics_assets.api.ratelimit import RESET_MARGIN_S, SAFETY, RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_requests_are_spaced_to_the_rate() -> None:
    time = FakeTime()
    limiter = RateLimiter(120, clock=time.clock, sleep=time.sleep)

    for _ in range(4):
        limiter.acquire()

    interval = 60 / (120 * SAFETY)
    assert time.sleeps == approx([interval] * 3)
    assert limiter.waited_s == approx(3 * interval)


def test_without_a_rate_only_the_apis_budget_paces() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=time.sleep)

    limiter.acquire()
    limiter.observe({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1010"})
    limiter.acquire()
    assert time.sleeps == []
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1010"})
    limiter.acquire()

    assert time.sleeps == approx([10 + RESET_MARGIN_S])


def test_headers_that_are_missing_or_garbled_change_nothing() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=time.sleep)

    limiter.observe({})
    limiter.observe({"X-RateLimit-Remaining": "zero", "X-RateLimit-Reset": "1010"})
    limiter.acquire()

    assert time.sleeps == []
