"""RateLimiter: pacing to a rate, and waiting for the API's reset when its budget is spent."""

import threading

import pytest
from pytest import approx

from analytics_assets.api.errors import WaitTooLong
from analytics_assets.api.ratelimit import RESET_MARGIN_S, SAFETY, RateLimiter, reset_delay


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # epoch seconds, as X-RateLimit-Reset
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
    limiter.observe({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1800000010"})
    limiter.acquire()
    assert time.sleeps == []
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800000010"})
    limiter.acquire()

    assert time.sleeps == approx([10 + RESET_MARGIN_S])


def test_headers_that_are_missing_or_garbled_change_nothing() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=time.sleep)

    limiter.observe({})
    limiter.observe({"X-RateLimit-Remaining": "zero", "X-RateLimit-Reset": "1800000010"})
    limiter.acquire()

    assert time.sleeps == []


@pytest.mark.parametrize(
    ("reset", "seconds"),
    [
        ("1800000010", 10.0),  # epoch seconds, as PersistIq documents
        ("1800000010000", 10.0),  # epoch milliseconds: once an OverflowError
        ("1800000010.5", 10.5),
        ("10", 10.0),  # a delta in seconds
        ("1799999990", 0.0),  # already past
        ("inf", None),
        ("nan", None),
        ("soon", None),
        (None, None),
    ],
)
def test_a_reset_is_read_as_epoch_seconds_milliseconds_or_a_delta(
    reset: str | None, seconds: float | None
) -> None:
    assert reset_delay(reset, 1_800_000_000.0) == seconds


def test_a_spent_budget_waits_with_a_log_line_saying_why() -> None:
    time = FakeTime()
    lines: list[str] = []
    limiter = RateLimiter(None, max_wait_s=60, log=lines.append, clock=time.clock, sleep=time.sleep)

    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800000030000"})
    limiter.acquire()

    assert time.sleeps == approx([30 + RESET_MARGIN_S])
    assert lines == ["rate limit: waiting 30.0 s for the API's rate-limit window to reset"]


def test_a_reset_beyond_the_cap_fails_at_once_instead_of_sleeping() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, max_wait_s=60, clock=time.clock, sleep=time.sleep)

    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(1_800_000_000 + 86400)})

    with pytest.raises(
        WaitTooLong, match=r"spent for another 86400 s .* 60 s cap \(ANALYTICS_API_MAX_WAIT_S\)"
    ):
        limiter.acquire()
    assert time.sleeps == []


def test_short_waits_for_the_pace_are_not_logged() -> None:
    time = FakeTime()
    lines: list[str] = []
    limiter = RateLimiter(120, log=lines.append, clock=time.clock, sleep=time.sleep)

    limiter.acquire()
    limiter.acquire()

    assert len(time.sleeps) == 1 and lines == []


RESET = "1800000010"  # FakeTime's now + 10 s


def test_the_budget_counts_the_other_requests_in_flight() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        limiter.acquire()  # three in flight: the API may not have counted the other two yet

    limiter.observe({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": RESET})
    limiter.release()
    limiter.acquire()  # 3 - 2 others in flight: one more fits
    assert time.sleeps == []
    limiter.acquire()  # the budget is spent: wait for the reset

    assert time.sleeps == approx([10 + RESET_MARGIN_S])


def test_an_older_answer_arriving_late_does_not_raise_the_budget() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=time.sleep)
    limiter.acquire()
    limiter.acquire()

    limiter.observe({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": RESET})  # counted last
    limiter.release()
    limiter.observe({"X-RateLimit-Remaining": "2", "X-RateLimit-Reset": RESET})  # counted first
    limiter.release()
    limiter.acquire()  # 1 - 1 other in flight when it was read: spent
    assert time.sleeps == approx([10 + RESET_MARGIN_S])


def test_after_the_reset_the_next_window_is_trusted_again() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=time.sleep)
    limiter.acquire()
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": RESET})
    limiter.release()
    limiter.acquire()  # waits for the reset
    limiter.observe({"X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "1800000070"})
    limiter.release()

    for _ in range(5):
        limiter.acquire()

    assert time.sleeps == approx([10 + RESET_MARGIN_S])


def test_requests_waiting_for_a_reset_all_wait_for_it() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=lambda seconds: None)  # threads: no sleep
    limiter.acquire()
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": RESET})
    limiter.release()

    limiter.acquire()
    limiter.acquire()  # a second thread, while the first still waits: waits as long

    assert limiter.waited_s == approx(2 * (10 + RESET_MARGIN_S))


def test_while_the_budget_is_unknown_one_request_goes_first() -> None:
    limiter = RateLimiter(None)
    limiter.acquire()  # the run's first request: its answer tells the budget
    second_started = threading.Event()

    def second() -> None:
        limiter.acquire()
        second_started.set()

    thread = threading.Thread(target=second)
    thread.start()
    try:
        assert not second_started.wait(0.3)  # held while the first has no answer
        limiter.observe({"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": RESET})
        assert second_started.wait(10)
    finally:
        limiter.observe({})
        thread.join(10)


def test_a_429_naming_no_budget_holds_every_request_back_as_long_as_it_asks() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=time.sleep)
    limiter.acquire()
    limiter.observe({"Retry-After": "2"}, limited_for=2.0)  # no X-RateLimit-* at all
    limiter.release()

    limiter.acquire()

    assert time.sleeps == approx([2 + RESET_MARGIN_S])


def test_a_wait_beyond_the_cap_leaves_the_others_free_to_ask() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, max_wait_s=60, clock=time.clock, sleep=time.sleep)
    limiter.acquire()
    limiter.observe({"Retry-After": "3600"}, limited_for=3600.0)
    limiter.release()
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(1_800_000_000 + 3600)})
    with pytest.raises(WaitTooLong):
        limiter.acquire()  # a first request of the next window, refused before it is sent
    other_raised = threading.Event()

    def other() -> None:
        try:
            limiter.acquire()
        except WaitTooLong:
            other_raised.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert other_raised.is_set()  # told at once too, not left waiting for an answer


def test_an_answer_naming_no_budget_does_not_end_the_first_request_of_a_window() -> None:
    time = FakeTime()
    limiter = RateLimiter(None, clock=time.clock, sleep=lambda seconds: None)
    limiter.acquire()
    limiter.observe({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": RESET})
    limiter.acquire()  # the window's last request, still in flight
    probing, answered = threading.Event(), threading.Event()

    def first_of_next_window() -> None:  # spent: goes first in the next window, and stays
        limiter.acquire()  # alive (a thread's id may be reused once it ends)
        probing.set()
        answered.wait(10)
        limiter.release()

    prober = threading.Thread(target=first_of_next_window)
    prober.start()
    assert probing.wait(10)
    waiter_started = threading.Event()

    def waiter() -> None:
        limiter.acquire()
        waiter_started.set()

    limiter.observe({})  # the request in flight gets a gateway's 502: nothing on the budget
    thread = threading.Thread(target=waiter)
    thread.start()
    try:
        assert not waiter_started.wait(0.3)  # still waiting for the first answer of the window
        limiter.observe({"X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "1800000070"})
        assert waiter_started.wait(10)
    finally:
        limiter.observe({"X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "1800000070"})
        answered.set()
        thread.join(10)
        prober.join(10)


def test_a_wait_cut_short_gives_its_place_back() -> None:
    time = FakeTime()
    sleeps: list[float] = []

    def interrupted_once(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            raise KeyboardInterrupt

    limiter = RateLimiter(None, clock=time.clock, sleep=interrupted_once)
    limiter.acquire()
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": RESET})
    limiter.release()
    with pytest.raises(KeyboardInterrupt):
        limiter.acquire()  # the next window's first request, interrupted while waiting for it
    other = threading.Thread(target=limiter.acquire)  # budget unknown: goes first now

    other.start()
    other.join(10)

    assert not other.is_alive()
    assert sleeps == approx([10 + RESET_MARGIN_S] * 2)  # both waited for the reset
