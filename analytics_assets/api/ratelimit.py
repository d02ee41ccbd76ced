"""One rate limiter for every request of a run.

The retrying session (``http.py``) retries 429s but would not pace requests, so a full sync
against a 100 requests / minute API would spend most of its time collecting 429s. This limiter
spaces requests to a configured rate and, when the API says how much budget is left
(``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``), waits for the reset instead of running into
the limit. Every wait is capped (``max_wait_s``) and, when longer than ``LOG_WAIT_S``, logged.

Requests run concurrently (``ANALYTICS_API_MAX_CONCURRENCY``), so an answer's
``X-RateLimit-Remaining`` may not count the other requests in flight yet: the limiter keeps a
lower bound of the budget left, the advertised remainder minus every other request in flight
when it was read, minus each request started since, and waits for the reset at 0. While the
budget is unknown (a run's first request, the first after a reset), one request goes first.
That admits no request beyond the budget whatever the order answers arrive in
(``test_concurrent_requests.py``, with the sandbox's request log).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

from analytics_assets.api.errors import WaitTooLong

SAFETY = 0.995  # pace just under the limit, so clock drift never makes request L+1 in a window
RESET_MARGIN_S = 0.05  # arrive just after the API's window has reset, never just before
LOG_WAIT_S = 2.0  # waits at least this long are logged with their reason
EPOCH_MS_FROM = 1e11  # a reset above this is epoch milliseconds (1e11 s is the year 5138)
EPOCH_S_FROM = 1e9  # a reset above this is epoch seconds (2001 on); below, a delta in seconds


def reset_delay(value: str | None, now: float) -> float | None:
    """Seconds from ``now`` until a rate-limit reset given in epoch s, epoch ms or as a delta.

    PersistIq documents epoch seconds; other APIs and proxies send milliseconds or a number of
    seconds to wait. None for a missing, garbled or non-finite value; 0 for one in the past.
    """
    number = _number(value)
    if number is None:
        return None
    if number >= EPOCH_MS_FROM:
        return max(0.0, number / 1000 - now)
    if number >= EPOCH_S_FROM:
        return max(0.0, number - now)
    return max(0.0, number)


class RateLimiter:
    """Paces requests to ``requests_per_minute`` and to the API's advertised budget.

    Args:
        requests_per_minute: Cap on the request rate; None paces only on the API's headers.
        max_wait_s: The longest wait for a reset; a longer one raises ``WaitTooLong``.
        log: Where waits of ``LOG_WAIT_S`` or more are reported.
        clock: Wall clock in epoch seconds (X-RateLimit-Reset is epoch seconds).
        sleep: How to wait; replaceable in tests.
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        max_wait_s: float = math.inf,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval_s = 60.0 / (requests_per_minute * SAFETY) if requests_per_minute else 0.0
        self.max_wait_s = max_wait_s
        self._log = log
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)  # notified by observe and release
        self._told = False  # an answer has come since the run began or the window reset
        self._prober: int | None = None  # the thread whose request goes first meanwhile
        self._next_at = 0.0  # earliest start of the next request
        self._in_flight = 0  # requests acquired and not yet released
        self._budget: int | None = None  # requests surely left before the API's reset
        self._reset_at = 0.0  # when the API's current window resets (epoch s)
        self._blocked_until = 0.0  # the budget is spent until then
        self.waited_s = 0.0

    def acquire(self) -> None:
        """Wait until the next request may start, and claim that slot (``release`` it after).

        Raises:
            WaitTooLong: the API's budget is spent for longer than ``max_wait_s``.
        """
        with self._answered:
            me = threading.get_ident()
            while not self._told and self._prober not in (None, me):
                # The budget is unknown (the run's first request, or the first after a reset):
                # one thread's request goes first and its answer tells the budget. Bounded:
                # that request ends within its deadline and then notifies.
                self._answered.wait()
            now = self._clock()
            blocked_until = self._blocked_until
            if self._budget == 0:  # spent: nothing starts before the window resets
                blocked_until = max(blocked_until, self._reset_at + RESET_MARGIN_S)
            blocked = blocked_until - now
            if blocked > self.max_wait_s:
                raise WaitTooLong(
                    f"the API's rate limit is spent for another {blocked:.0f} s "
                    f"(X-RateLimit-Remaining, X-RateLimit-Reset), more than the "
                    f"{self.max_wait_s:g} s cap (ANALYTICS_API_MAX_WAIT_S); run again later"
                )
            self._blocked_until = blocked_until
            if not self._told:
                self._prober = me  # after the cap's check: a raise must leave no prober behind
            if self._budget == 0:
                self._budget = None  # the next window's first answer tells its budget
                self._told, self._prober = False, me
            elif self._budget is not None:
                self._budget -= 1
            start = max(now, self._next_at, blocked_until)
            self._next_at = start + self.interval_s
            self._in_flight += 1
        wait = start - now
        if wait <= 0:
            return
        if wait >= LOG_WAIT_S and self._log is not None:
            why = "the API's rate-limit window to reset" if blocked > 0 else "the request pace"
            self._log(f"rate limit: waiting {wait:.1f} s for {why}")
        self.waited_s += wait
        try:
            self._sleep(wait)
        except BaseException:  # the caller never sends, so never releases: do it here
            self.release()
            raise

    def release(self) -> None:
        """The request of an ``acquire`` has its answer (or failed)."""
        with self._answered:
            self._in_flight -= 1
            if self._prober == threading.get_ident():
                self._prober = None  # no answer (a connection error): another thread goes
            self._answered.notify_all()

    def observe(self, headers: Mapping[str, str], limited_for: float | None = None) -> None:
        """Read the API's budget from an answer's ``X-RateLimit-*`` headers (before ``release``).

        Args:
            headers: The answer's headers.
            limited_for: For a 429, how long the API asked to wait (``Retry-After``, else the
                first backoff): without budget headers it holds every request back as long.
        """
        now = self._clock()
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        delay = reset_delay(headers.get("X-RateLimit-Reset"), now)
        if (remaining is None or delay is None) and limited_for is not None:
            remaining, delay = 0.0, limited_for  # spent, and no word on the budget: all wait
        with self._answered:
            budget_told = remaining is not None and delay is not None
            if budget_told or self._prober in (None, threading.get_ident()):
                # The budget is told, or the first request's answer shows the API tells none;
                # another answer without it (a 502 from a gateway) says nothing on the budget.
                self._told = True
                self._prober = None
                self._answered.notify_all()
            if remaining is None or delay is None:
                return
            reset_at = now + delay
            # The others in flight may not be counted in ``remaining`` yet.
            budget = max(0, math.floor(remaining) - max(0, self._in_flight - 1))
            if self._budget is None or now >= self._reset_at:
                self._budget = budget  # the first word on this window
                self._reset_at = reset_at
            else:  # an answer counted earlier may arrive later: keep the lowest
                self._budget = min(self._budget, budget)
                self._reset_at = max(self._reset_at, reset_at)


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
