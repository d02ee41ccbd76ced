"""The HTTP session every request of a sync goes through: dlt's retrying ``Client``, plus three
things it lacks.

dlt's ``Client`` already retries on status codes and connection errors with exponential backoff
(``factor * 2 ** (attempt - 1)``: 2 s then 4 s for factor 2) and honours ``Retry-After``. Added:
1. on a 429 without ``Retry-After``, wait for ``X-RateLimit-Reset`` (epoch seconds);
2. every attempt, retries included, passes the run's shared ``RateLimiter``;
3. a response's JSON is parsed once (dlt's data selector and the paginator both read it), and a
   body that is not JSON raises an error naming the URL instead of a bare decode error.

For speed (benchmarks/README.md): the JSON is parsed with orjson (requests' own parser, simplejson
here, only for what orjson refuses: non-UTF-8 bodies, NaN, huge integers), and proxy settings
are read from the environment once per host and session instead of twice per request.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dlt.sources.helpers.requests.retry import Client, _make_retry, wait_exponential_retry_after
from dlt.sources.helpers.requests.session import Session
from requests import ConnectionError, HTTPError, Response, Timeout
from requests.exceptions import ChunkedEncodingError
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies
from tenacity import RetryCallState

try:  # a dependency of dlt on CPython
    import orjson
except ImportError:  # pragma: no cover
    orjson = None

from analytics_assets.api.errors import ApiResponseError
from analytics_assets.api.ratelimit import RateLimiter

RETRY_STATUSES = (429, 500, 502, 503, 504)  # the seed's list; 501 and 505+ are not transient
RETRY_EXCEPTIONS = (ConnectionError, Timeout, ChunkedEncodingError)


@dataclass(frozen=True)
class HttpPolicy:
    """Retry and timeout settings (the seed: 3 attempts, backoff factor 2)."""

    max_attempts: int = 3
    backoff_factor: float = 2.0
    timeout_s: float = 30.0
    max_retry_delay_s: float = 120.0


class wait_for_rate_limit_reset(wait_exponential_retry_after):  # noqa: N801 (tenacity's style)
    """dlt's wait (Retry-After, else exponential), plus X-RateLimit-Reset on a 429."""

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock

    def _get_retry_after(self, retry_state: RetryCallState) -> float | None:
        retry_after = super()._get_retry_after(retry_state)
        if retry_after is not None:
            return retry_after
        response = _retry_response(retry_state)
        if response is None or response.status_code != 429:
            return None
        try:
            reset = float(response.headers["X-RateLimit-Reset"])
        except (KeyError, ValueError):
            return None
        seconds = reset - self._clock()
        return min(self.max, seconds) if seconds > 0 else None


def _retry_response(retry_state: RetryCallState) -> Response | None:
    outcome = retry_state.outcome
    if outcome is None:
        return None
    error = outcome.exception()
    if error is not None:
        return getattr(error, "response", None)
    result = outcome.result()
    return result if isinstance(result, Response) else None


def _loads(response: Response, parse: Callable[..., Any], **kwargs: Any) -> Any:
    """orjson when it can; requests' parser (encoding detection, NaN, big ints) when not."""
    if orjson is not None and not kwargs:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
    return parse(**kwargs)


def _parse_json_once(response: Response) -> None:
    parse = response.json
    cache: list[Any] = []

    def json(**kwargs: Any) -> Any:
        if not cache:
            try:
                cache.append(_loads(response, parse, **kwargs))
            except ValueError as error:
                raise ApiResponseError(
                    f"GET {response.url} answered {response.status_code} with a body that is not "
                    f"valid JSON ({len(response.content)} bytes: {error})"
                ) from error
        return cache[0]

    response.json = json  # type: ignore[method-assign]


class EnvironmentOnceSession(Session):
    """dlt's session that reads proxy settings from the environment once per host.

    requests scans the whole environment twice per request for them (10 % of a sync's extract
    time); the result depends only on the host and ``no_proxy``, so it is kept per session.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        # What requests does with trust_env, with the environment's proxies looked up once.
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        split = urlsplit(url)
        key = (split.scheme, split.netloc, no_proxy)
        if key not in self._environ_proxies:
            self._environ_proxies[key] = get_environ_proxies(url, no_proxy=no_proxy)
        proxies = {**self._environ_proxies[key], **(proxies or {})}
        if verify is True or verify is None:
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
            )
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


class ApiClient(Client):
    """dlt's retrying client with the additions listed in the module docstring."""

    def __init__(self, policy: HttpPolicy, limiter: RateLimiter) -> None:
        super().__init__(
            request_timeout=policy.timeout_s,
            raise_for_status=False,  # dlt's REST client raises, with its sanitized URL
            status_codes=RETRY_STATUSES,
            exceptions=RETRY_EXCEPTIONS,
            request_max_attempts=policy.max_attempts,
            request_backoff_factor=policy.backoff_factor,
            request_max_retry_delay=policy.max_retry_delay_s,
            respect_retry_after_header=True,
        )
        self.limiter = limiter

    def _make_session(self) -> Session:
        session = EnvironmentOnceSession(**self._session_kwargs)
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        send = session.send

        def limited_send(request: Any, **kwargs: Any) -> Response:
            self.limiter.acquire()
            try:
                response = send(request, **kwargs)
            except HTTPError as error:  # dlt's REST client raises from a response hook
                if error.response is not None:
                    self.limiter.observe(error.response.headers)
                raise
            self.limiter.observe(response.headers)
            _parse_json_once(response)
            return response

        retry = _make_retry(**self._retry_kwargs)
        wait = wait_for_rate_limit_reset(
            multiplier=self._retry_kwargs["backoff_factor"], max=self._retry_kwargs["max_delay"]
        )
        session.send = retry.copy(wait=wait).wraps(limited_send)  # type: ignore[method-assign]
        return session
