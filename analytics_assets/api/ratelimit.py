"""One rate limiter for every request of a run.

dlt's client retries 429s but does not pace requests, so a full sync against a 100 requests /
minute API would spend most of its time collecting 429s. This limiter spaces requests to a
configured rate and, when the API says how much budget is left (``X-RateLimit-Remaining`` /
``X-RateLimit-Reset``), waits for the reset instead of running into the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

SAFETY = 0.995  # pace just under the limit, so clock drift never makes request L+1 in a window
RESET_MARGIN_S = 0.05  # arrive just after the API's window has reset, never just before


class RateLimiter:
    """Paces requests to ``requests_per_minute`` and to the API's advertised budget.

    Args:
        requests_per_minute: Cap on the request rate; None paces only on the API's headers.
        clock: Wall clock in epoch seconds (X-RateLimit-Reset is epoch seconds).
        sleep: How to wait; replaceable in tests.
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval_s = 60.0 / (requests_per_minute * SAFETY) if requests_per_minute else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_at = 0.0  # earliest start of the next request
        self._blocked_until = 0.0  # the API's budget is spent until then
        self.waited_s = 0.0

    def acquire(self) -> None:
        """Wait until the next request may start, and claim that slot."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_at, self._blocked_until)
            self._next_at = start + self.interval_s
        if start > now:
            self.waited_s += start - now
            self._sleep(start - now)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read the API's budget from a response's ``X-RateLimit-*`` headers."""
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        reset = _number(headers.get("X-RateLimit-Reset"))
        if remaining is None or reset is None or remaining > 0:
            return
        with self._lock:
            self._blocked_until = max(self._blocked_until, reset + RESET_MARGIN_S)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
