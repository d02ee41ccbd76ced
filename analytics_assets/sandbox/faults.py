"""Fault injection: deterministic misbehaviour per resource and page, for client robustness tests.

A fault replaces the normal answer to one page request. ``SandboxServer.inject`` queues faults;
each matching request consumes one use of the first matching injection (injection order), and
normal service resumes once all uses are spent. Faults only hit authenticated requests whose
resource and page resolved; auth failures, 404s and bad parameters are never faulted.

Example:
    sandbox.inject("leads", Status(503, {"Retry-After": "3"}), page=3, times=2)
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from analytics_assets.sandbox import pages
from analytics_assets.sandbox.transport import Response

# The error envelope's reason per status, as PersistIq names them (persistiq-errors.yml).
_REASONS: dict[int, tuple[str, str]] = {
    400: ("bad_params", "A required parameter is missing or invalid."),
    401: ("unauthorized", "The API key is wrong or missing."),
    403: ("invalid_request_error", "The request was invalid."),
    404: ("not_found", "The specified data could not be found."),
    422: ("invalid_request", "The request could not be processed."),
    429: ("too_many_requests", "Too many requests. Try again later."),
    500: ("api_error", "A server-side problem occurred. Try again later."),
    502: ("api_error", "Bad gateway. Try again later."),
    503: ("api_error", "The service is temporarily unavailable. Try again later."),
    504: ("api_error", "The upstream timed out. Try again later."),
}
# What a proxy in front of an API sends when the app behind it is down, but with a 200.
INVALID_JSON_BODY = b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>"


@dataclass(frozen=True)
class Page:
    """The normal answer to one page request, plus what a fault needs to distort it.

    Attributes:
        resource: The resource, e.g. ``leads``.
        number: The 1-based page number.
        response: The normal (200) response, rate-limit headers included.
        records_of: The records of page n of the same view (same ``updated_after``).
        link: The ``next_page`` value (URL or cursor) that points at page n.
    """

    resource: str
    number: int
    response: Response
    records_of: Callable[[int], list[dict[str, Any]]]
    link: Callable[[int], str]

    def envelope(self) -> dict[str, Any]:
        """The normal body, parsed."""
        return json.loads(self.response.body)

    def with_body(self, body: dict[str, Any]) -> Response:
        """The normal response (status 200, same headers) with ``body`` instead."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        return dataclasses.replace(self.response, body=raw)


class Fault:
    """Base of the fault kinds; ``apply`` turns the normal answer into the faulty one."""

    @property
    def kind(self) -> str:
        """The name recorded in the request log, e.g. ``Status``."""
        return type(self).__name__

    def apply(self, page: Page) -> Response:
        """The response to send instead of ``page.response``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Status(Fault):
    """Answer ``code`` with the API's error envelope (or ``body``) plus ``headers``.

    Headers given here override the rate limiter's, so a test can send its own
    ``X-RateLimit-Reset``. Typical: ``Status(429, {"Retry-After": "3"})``.
    """

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.code <= 599:
            raise ValueError(f"Status needs an error status 400..599, got {self.code}")

    def apply(self, page: Page) -> Response:
        body = self.body
        if body is None:
            fallback = "api_error" if self.code >= 500 else "invalid_request_error"
            reason, message = _REASONS.get(self.code, (fallback, "The request failed."))
            body = pages.render_error(reason, message)
        return Response(self.code, body, {**page.response.headers, **self.headers})


@dataclass(frozen=True)
class Delay(Fault):
    """Answer normally after ``seconds`` (logged on arrival), to trip client timeouts."""

    seconds: float

    def __post_init__(self) -> None:
        if not 0 <= self.seconds < math.inf:
            raise ValueError(f"Delay needs finite seconds >= 0, got {self.seconds}")

    def apply(self, page: Page) -> Response:
        return dataclasses.replace(page.response, delay=self.seconds)


@dataclass(frozen=True)
class Reset(Fault):
    """Close the connection with a TCP RST and no response: "connection aborted" for a client."""

    def apply(self, page: Page) -> Response:
        return Response(0, b"", cut="reset")


@dataclass(frozen=True)
class InvalidJson(Fault):
    """A 200 whose body is not JSON (an HTML error page), still labelled application/json."""

    def apply(self, page: Page) -> Response:
        return dataclasses.replace(page.response, body=INVALID_JSON_BODY)


@dataclass(frozen=True)
class Truncated(Fault):
    """A 200 announcing the full Content-Length, then half the body and a close."""

    def apply(self, page: Page) -> Response:
        return dataclasses.replace(page.response, cut="truncate")


@dataclass(frozen=True)
class MissingResourceKey(Fault):
    """A 200 success envelope without the ``<resource>`` key."""

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        body.pop(page.resource, None)
        return page.with_body(body)


@dataclass(frozen=True)
class ErrorEnvelope(Fault):
    """A 200 whose envelope says ``status: error`` with an ``errors`` list and no records."""

    def apply(self, page: Page) -> Response:
        message = f"An error occurred while listing {page.resource}."
        return page.with_body(
            {"status": "error", "errors": [message], "has_more": False, "next_page": None}
        )


@dataclass(frozen=True)
class EmptyPageHasMore(Fault):
    """A 200 with no records but ``has_more: true`` and next_page at the following page.

    Injected on every page (``page=None``, large ``times``) it never ends: clients must bound
    their loops.
    """

    def apply(self, page: Page) -> Response:
        return dataclasses.replace(
            page.response,
            body=pages.render(page.resource, [], True, page.link(page.number + 1), bare=False),
        )


@dataclass(frozen=True)
class DuplicateRecord(Fault):
    """The page also carries (appended) the first record of the previous page.

    Page 1 gets the first record of page 2 instead, or its own first record if there is no
    page 2; an empty page with nothing to copy is served unchanged. The set of ids is the same.
    """

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        rows = body.get(page.resource, [])
        source = page.records_of(page.number - 1 if page.number > 1 else 2) or rows
        if not source:
            return page.response
        rows.append(source[0])
        return page.with_body(body)


KINDS: dict[str, type[Fault]] = {
    "status": Status,
    "delay": Delay,
    "reset": Reset,
    "invalid_json": InvalidJson,
    "truncated": Truncated,
    "missing_resource_key": MissingResourceKey,
    "error_envelope": ErrorEnvelope,
    "empty_page_has_more": EmptyPageHasMore,
    "duplicate_record": DuplicateRecord,
}


@dataclass(frozen=True)
class Injection:
    """A queued fault: which requests it matches and how many uses are left."""

    resource: str
    page: int | None  # None: any page
    fault: Fault
    times: int


class FaultTable:
    """The queued injections, thread-safe; falsy when empty so the fast path skips it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Injection] = []

    def __bool__(self) -> bool:
        return bool(self._queue)

    def add(self, injection: Injection) -> None:
        """Queue ``injection`` behind the ones already queued."""
        with self._lock:
            self._queue.append(injection)

    def clear(self) -> None:
        """Drop every queued injection."""
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[Injection]:
        """The injections with uses left, in matching order."""
        with self._lock:
            return list(self._queue)

    def take(self, resource: str, page: int) -> Fault | None:
        """Consume one use of the first injection matching ``resource`` and ``page``."""
        with self._lock:
            for i, injection in enumerate(self._queue):
                if injection.resource == resource and injection.page in (None, page):
                    if injection.times > 1:
                        self._queue[i] = dataclasses.replace(injection, times=injection.times - 1)
                    else:
                        del self._queue[i]
                    return injection.fault
        return None


class FaultSpec(NamedTuple):
    """A parsed ``--fault`` argument; ``SandboxServer.inject(*spec)`` queues it."""

    resource: str
    fault: Fault
    page: int | None
    times: int


SPEC_SYNTAX = "RESOURCE[:PAGE]=KIND[:ARG][xTIMES]"
_SPEC = re.compile(
    r"(?P<resource>[a-z_]+)(?::(?P<page>[0-9]+))?="
    r"(?P<kind>[a-z_-]+?)(?::(?P<arg>.+?))?(?:x(?P<times>[0-9]+))?"
)


def parse_fault_spec(spec: str) -> FaultSpec:
    """Parse e.g. ``leads:3=status:503x2``, ``users=reset``, ``leads:2=delay:1.5``.

    ``status`` takes ``CODE[,Header=Value...]``, ``delay`` takes seconds, the other kinds take
    no argument. A trailing ``xN`` is always the number of uses (default 1).

    Raises:
        ValueError: The spec is malformed; the message shows the syntax and the kinds.
    """
    match = _SPEC.fullmatch(spec.strip())
    kind = match["kind"].replace("-", "_") if match else ""
    if match is None or kind not in KINDS:
        raise ValueError(
            f"bad fault {spec!r}: expected {SPEC_SYNTAX} with KIND one of {', '.join(KINDS)}"
        )
    page = int(match["page"]) if match["page"] else None
    times = int(match["times"]) if match["times"] else 1
    if page == 0 or times == 0:
        raise ValueError(f"bad fault {spec!r}: PAGE and TIMES start at 1")
    return FaultSpec(match["resource"], _fault(kind, match["arg"], spec), page, times)


def _fault(kind: str, arg: str | None, spec: str) -> Fault:
    try:
        if kind == "status":
            code, *pairs = (arg or "").split(",")
            headers = dict(pair.split("=", 1) for pair in pairs)
            return Status(int(code), {k.strip(): v.strip() for k, v in headers.items()})
        if kind == "delay":
            return Delay(float(arg or ""))
    except ValueError as exc:
        raise ValueError(
            f"bad fault {spec!r}: {exc}; e.g. status:503, status:429,Retry-After=3, delay:1.5"
        ) from None
    if arg is not None:
        raise ValueError(f"bad fault {spec!r}: {kind} takes no argument")
    return KINDS[kind]()
