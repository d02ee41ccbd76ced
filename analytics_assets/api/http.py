"""The HTTP session every request of a sync goes through, on requests' and tenacity's public API.

``ApiSession`` is a ``requests.Session`` whose ``send`` adds what a sync needs and requests lacks:
1. the seed's retry rule: 429/500/502/503/504, connection errors, timeouts, cut or non-JSON
   bodies; ``max_attempts`` in total, waits of ``factor × 2^(n-1)`` s (2 s, then 4 s), unless the
   API says how long (``Retry-After`` in seconds or as a date; on a 429 ``X-RateLimit-Reset`` in
   epoch s, epoch ms or as a delta). Retries are tenacity's ``Retrying``;
2. every wait is capped (``max_wait_s``: a longer one fails at once, naming the header) and
   logged with its reason;
3. an overall deadline per attempt (connect, headers and the whole body; ``deadline.py``);
4. the key goes only to the API's origin: a request anywhere else (a ``next_page`` or redirect
   to another host, port or scheme) is refused before it leaves;
5. every attempt passes the run's shared ``RateLimiter``, and reports the budget headers to it;
6. a 2xx body is parsed once (dlt's data selector and the paginator both read it) with orjson,
   requests' own parser for what orjson refuses (e.g. bodies that are not UTF-8) and for bodies
   with integers of 19 digits or more, which orjson would turn into floats (silently rounding).

Redirects (requests follows them by calling ``send`` again from inside ``send``) are single hops
inside the first request's attempt: the origin rule and the limiter apply to each hop, the
deadline and the retries are the first request's, and at most ``MAX_REDIRECTS`` are followed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import tenacity
from requests import ConnectionError, HTTPError, PreparedRequest, RequestException, Response
from requests.exceptions import ChunkedEncodingError, Timeout

from analytics_assets.api.deadline import WATCHDOG, DeadlineAdapter
from analytics_assets.api.errors import (
    ForeignOriginError,
    InvalidBody,
    ResponseDeadlineExceeded,
    WaitTooLong,
)
from analytics_assets.api.ratelimit import RateLimiter, reset_delay
from analytics_assets.api.redact import NO_SECRETS, Redactor

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""The seed's list; 501 and 505+ are not transient."""
TRANSIENT_ERRORS = (ConnectionError, Timeout, ChunkedEncodingError, InvalidBody)
"""Failures without a usable answer that another attempt may not meet."""
MAX_REDIRECTS = 5

DIGITS_ONLY = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
"""Maps every digit to ``0`` and all else to a space: 19 digits in a row become ``0`` × 19."""
LONG_RUN = b"0" * 19
"""19 digits in a row: possibly an integer beyond 64 bits, which orjson turns into a rounded
float. A scan with ``bytes.translate`` costs ~0.7 µs per KB; a regex, 25 times that."""

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpPolicy:
    """Retry, wait and deadline settings (the seed: 3 attempts, backoff factor 2)."""

    max_attempts: int = 3
    backoff_factor: float = 2.0
    timeout_s: float = 30.0  # per attempt: connect, headers and the whole body
    max_wait_s: float = 300.0  # the longest wait the API may ask for


def origin(url: str) -> tuple[str, str]:
    """``(scheme, host:port)`` of ``url``, with the scheme's default port made explicit."""
    split = urlsplit(url)
    port = split.port or {"http": 80, "https": 443}.get(split.scheme.lower())
    return split.scheme.lower(), f"{(split.hostname or '').lower()}:{port}"


def server_wait(response: Response, now: float) -> tuple[float, str] | None:
    """How long the API asked to wait before the next attempt, and which header said so."""
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        seconds = _retry_after_seconds(retry_after.strip(), now)
        if seconds is not None:
            return seconds, f"Retry-After: {retry_after}"
    if response.status_code == 429:
        reset = response.headers.get("X-RateLimit-Reset")
        seconds = reset_delay(reset, now)
        if seconds is not None:
            return seconds, f"X-RateLimit-Reset: {reset}"
    return None


def _retry_after_seconds(value: str, now: float) -> float | None:
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def _outcome_response(state: tenacity.RetryCallState) -> Response | None:
    outcome = state.outcome
    if outcome is None:
        return None
    if outcome.failed:
        return getattr(outcome.exception(), "response", None)
    result = outcome.result()
    return result if isinstance(result, Response) else None


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, HTTPError):  # raised by dlt's response hook for error statuses
        return error.response is not None and error.response.status_code in RETRY_STATUSES
    return isinstance(error, TRANSIENT_ERRORS)


class ApiSession(requests.Session):
    """A ``requests.Session`` for one run's API requests (see the module docstring).

    Args:
        base_url: The API's root; only its origin (scheme, host, port) is ever sent the key.
        policy: Attempts, backoff, deadline and the wait cap.
        limiter: The run's shared rate limiter.
        log: Where retries and long waits are reported (a Dagster run's ``context.log``).
        redact: Masks the API key in what the session reports.
        clock: Wall clock in epoch seconds, sleep: how to wait; both replaceable in tests.
    """

    def __init__(
        self,
        base_url: str,
        policy: HttpPolicy,
        limiter: RateLimiter,
        log: Callable[[str], None] = _logger.warning,
        redact: Redactor = NO_SECRETS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.origin = origin(base_url)
        self.policy = policy
        self.limiter = limiter
        self._log = log
        self._redact = redact
        self._clock = clock
        self._sleep = sleep
        self._sending = threading.local()  # set while an attempt runs in this thread
        self.max_redirects = MAX_REDIRECTS
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}
        adapter = DeadlineAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        """Send ``request`` with the retry rule, the deadline, the limiter and the origin rule."""
        if getattr(self._sending, "active", False):  # a redirect's hop, inside an attempt
            self._check_origin(request)
            self.limiter.acquire()
            try:
                deadline = WATCHDOG.current()
                if deadline is not None and deadline.passed:  # spent waiting for the limiter
                    raise self._past_deadline(request)
                hop = super().send(request, **kwargs)
                self._observe(hop)
                return hop
            finally:
                self.limiter.release()
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.policy.timeout_s  # per socket read; the deadline bounds all
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            retry=(
                tenacity.retry_if_exception(_is_transient)
                | tenacity.retry_if_result(lambda r: r.status_code in RETRY_STATUSES)
            ),
            before_sleep=self._report_retry,
            retry_error_callback=lambda state: state.outcome.result(),  # the last answer or error
            sleep=self._sleep,
        )
        return retrying(self._attempt, request, **kwargs)

    def merge_environment_settings(
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """requests' merge, with the environment read once per origin and run: requests reads
        the proxy variables anew for every request (about 0.2 ms of the 1.6 ms a request took
        on loopback). A variable changed during a run applies from the next run."""
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = origin(url)
        merged = self._environment.get(key)
        if merged is None:
            merged = super().merge_environment_settings(url, {}, None, None, None)
            self._environment[key] = merged
        return {**merged, "proxies": dict(merged["proxies"])}

    def _check_origin(self, request: PreparedRequest) -> None:
        url = request.url or ""
        if origin(url) != self.origin:
            raise ForeignOriginError(
                f"refused {request.method} {self._redact(url)}: not the API's origin "
                f"{self.origin[0]}://{self.origin[1]} (ANALYTICS_API_BASE_URL), and the API key "
                "goes nowhere else. A next_page or redirect of the API pointed there; if the API "
                "moved (e.g. to https), change ANALYTICS_API_BASE_URL"
            )

    def _attempt(self, request: PreparedRequest, **kwargs: Any) -> Response:
        self._check_origin(request)
        self.limiter.acquire()
        try:
            return self._attempt_sent(request, **kwargs)
        finally:
            self.limiter.release()

    def _attempt_sent(self, request: PreparedRequest, **kwargs: Any) -> Response:
        with WATCHDOG.bound(self.policy.timeout_s) as deadline:
            self._sending.active = True
            try:
                response = super().send(request, **kwargs)
                if not kwargs.get("stream"):
                    response.content  # noqa: B018 (read the body inside the deadline)
            except HTTPError as error:  # dlt's response hook raises for error statuses
                if error.response is not None:
                    self._observe(error.response)
                    _read_error_body(error.response)
                raise
            except RequestException as error:
                if deadline.expired:
                    raise self._past_deadline(request) from error
                raise
            finally:
                self._sending.active = False
            if deadline.expired:  # the socket was shut mid-body: what was read is cut short
                raise self._past_deadline(request)
        self._observe(response)
        if 200 <= response.status_code < 300 and not kwargs.get("stream"):
            _parse_json_once(response, self._redact)
        return response

    def _observe(self, response: Response) -> None:
        """Tell the limiter the budget an answer gives; a 429 holds everyone back as long as
        it asks (its ``Retry-After``, else the first backoff) when it names no budget."""
        limited_for = None
        if response.status_code == 429:
            asked = server_wait(response, self._clock())
            limited_for = asked[0] if asked else self.policy.backoff_factor
        self.limiter.observe(response.headers, limited_for)

    def _past_deadline(self, request: PreparedRequest) -> ResponseDeadlineExceeded:
        return ResponseDeadlineExceeded(
            f"{request.method} {self._redact(request.url or '')}: no complete answer within "
            f"{self.policy.timeout_s:g} s (ANALYTICS_API_TIMEOUT_S bounds connect, headers "
            "and the whole body)",
            request=request,
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        if state.attempt_number >= self.policy.max_attempts:
            return 0.0  # tenacity asks before it checks the stop: no attempt follows
        response = _outcome_response(state)
        asked = server_wait(response, self._clock()) if response is not None else None
        if asked is None:
            exponential = self.policy.backoff_factor * 2 ** (state.attempt_number - 1)
            return min(exponential, self.policy.max_wait_s)
        seconds, header = asked
        if seconds > self.policy.max_wait_s:
            request = state.args[0]
            raise WaitTooLong(
                f"{request.method} {self._redact(request.url or '')} answered "
                f"{response.status_code if response is not None else '?'} and asked to wait "
                f"{seconds:.0f} s ({header}), more than the {self.policy.max_wait_s:g} s cap "
                "(ANALYTICS_API_MAX_WAIT_S); run again later"
            )
        return seconds

    def _report_retry(self, state: tenacity.RetryCallState) -> None:
        request = state.args[0]
        response = _outcome_response(state)
        outcome = state.outcome
        if response is not None:
            what = f"answered {response.status_code}"
        elif outcome is not None and outcome.failed:
            error = outcome.exception()
            what = f"failed ({type(error).__name__}: {self._redact(str(error))[:300]})"
        else:  # pragma: no cover (tenacity retries only on the two above)
            what = "failed"
        wait = state.upcoming_sleep
        header = server_wait(response, self._clock()) if response is not None else None
        reason = header[1] if header else "exponential backoff"
        self._log(
            f"{request.method} {self._redact(request.url or '')} {what} "
            f"(attempt {state.attempt_number} of {self.policy.max_attempts}); "
            f"retrying in {wait:.1f} s ({reason})"
        )


def _read_error_body(response: Response) -> None:
    """Read an error answer's body while the deadline still guards it (its text is reported)."""
    try:
        response.content  # noqa: B018
    except RequestException:
        pass  # the status is what matters; the body is only the API's words about it


def _parse_json_once(response: Response, redact: Redactor) -> None:
    """Parse ``response``'s body now; ``response.json()`` then returns that parse."""
    try:
        if LONG_RUN in response.content.translate(DIGITS_ONLY):
            raise orjson.JSONDecodeError("long integers: parse exactly", "", 0)
        parsed = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        try:
            parsed = requests.Response.json(response)
        except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
            raise InvalidBody(
                f"GET {redact(response.url)} answered {response.status_code} with a body that "
                f"is not valid JSON ({len(response.content)} bytes"
                f"{', ' + redact(str(error)) if str(error) else ''})"
            ) from None

    def json(**kwargs: Any) -> Any:
        return parsed

    response.json = json  # type: ignore[method-assign]
