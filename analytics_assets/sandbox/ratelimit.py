"""Fixed-window rate limiting in the shape of PersistIq's: N requests per window per API key.

Semantics (the sandbox has a single key, so per key means per server):

* A window opens at the first request the limiter sees and lasts ``window_s`` seconds; the next
  window opens at the first request after it has ended (windows are not aligned to a grid).
* Only authenticated requests (valid API key, any path) count and can be refused. A request
  with a missing or wrong key is answered 401 and consumes nothing, but it does open a window.
* Every response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
  ``X-RateLimit-Reset``: the window's end in UTC epoch seconds, rounded up to an integer so a
  client that waits until then is never early.
* A counted request past the limit gets a 429 with the API's body and no ``Retry-After``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """The limiter's answer for one request.

    Attributes:
        allowed: False when the request must be refused with a 429.
        headers: The X-RateLimit-* headers for the response.
        reset: The window's end, epoch seconds rounded up (as in the Reset header).
    """

    allowed: bool
    headers: dict[str, str]
    reset: int


class RateLimiter:
    """Counts requests in fixed windows; thread-safe.

    Args:
        limit: Requests allowed per window.
        window_s: The window's length in seconds.
        clock: Wall-clock seconds since the epoch; the Reset header is in this clock.
    """

    def __init__(
        self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        if limit < 1:
            raise ValueError(f"rate limit must be at least 1, got {limit}")
        if not 0 < window_s < math.inf:
            raise ValueError(f"rate window must be a positive number of seconds, got {window_s}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._ends = -math.inf  # the current window's end, in clock seconds
        self._used = 0

    def check(self, counted: bool = True) -> Verdict:
        """Account for one request; ``counted`` False for unauthenticated ones."""
        with self._lock:
            now = self._clock()
            if now >= self._ends:
                self._ends, self._used = now + self.window_s, 0
            allowed = not counted or self._used < self.limit
            if counted and allowed:
                self._used += 1
            remaining, reset = self.limit - self._used, math.ceil(self._ends)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }
        return Verdict(allowed, headers, reset)


def too_many_requests(limit: int, reset: int) -> bytes:
    """The API's 429 body, verbatim (including "per minute" and "reseted") whatever the window."""
    message = (
        f"You performed more than {limit} requests per minute. Limit will be reseted at {reset}."
    )
    body = {"error": {"reason": "too_many_requests", "message": message}}
    return json.dumps(body, separators=(",", ":")).encode()
