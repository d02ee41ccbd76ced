"""One rate limiter for every request of a run.

The retrying session (``http.py``) retries 429s but would not pace requests, so a full sync
against a 100 requests / minute API would spend most of its time collecting 429s. This limiter
spaces requests to a configured rate and, when the API says how much budget is left
(``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``), waits for the reset instead of running into
the limit. Every wait is capped (``max_wait_s``) and, when longer than ``LOG_WAIT_S``, logged.
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
        self._next_at = 0.0  # earliest start of the next request
        self._blocked_until = 0.0  # the API's budget is spent until then
        self.waited_s = 0.0

    def acquire(self) -> None:
        """Wait until the next request may start, and claim that slot.

        Raises:
            WaitTooLong: the API's budget is spent for longer than ``max_wait_s``.
        """
        with self._lock:
            now = self._clock()
            blocked = self._blocked_until - now
            if blocked > self.max_wait_s:
                raise WaitTooLong(
                    f"the API's rate limit is spent for another {blocked:.0f} s "
                    f"(X-RateLimit-Remaining: 0, X-RateLimit-Reset), more than the "
                    f"{self.max_wait_s:g} s cap (ANALYTICS_API_MAX_WAIT_S); run again later"
                )
            start = max(now, self._next_at, self._blocked_until)
            self._next_at = start + self.interval_s
        wait = start - now
        if wait <= 0:
            return
        if wait >= LOG_WAIT_S and self._log is not None:
            why = "the API's rate-limit window to reset" if blocked > 0 else "the request pace"
            self._log(f"rate limit: waiting {wait:.1f} s for {why}")
        self.waited_s += wait
        self._sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read the API's budget from a response's ``X-RateLimit-*`` headers."""
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        if remaining is None or remaining > 0:
            return
        delay = reset_delay(headers.get("X-RateLimit-Reset"), self._clock())
        if delay is None:
            return
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + delay + RESET_MARGIN_S)


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
