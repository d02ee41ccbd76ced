"""Fault injection: deterministic misbehaviour per resource and page, for client robustness tests.

A fault replaces the normal answer to one page request. ``SandboxServer.inject`` queues faults;
each matching request consumes one use of the first matching injection (injection order), and
normal service resumes once all uses are spent. Faults only hit authenticated requests whose
resource and page resolved; auth failures, 404s and bad parameters are never faulted.

Kinds: transport (``Delay``, ``Reset``, ``Truncated``, ``Trickle``), status (``Status``,
``Redirect``, ``Headers``), envelope (``InvalidJson``, ``MissingResourceKey``, ``ErrorEnvelope``,
``EmptyPageHasMore``, ``HasMoreWithoutNextPage``, ``ForeignNextPage``, ``RelativeNextPage``,
``EndsEarly``) and
records (``DuplicateRecord``, ``RepeatedPage``, ``ReplaceRecord``, ``PatchRecord``).

Example:
    sandbox.inject("leads", Status(503, {"Retry-After": "3"}), page=3, times=2)
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlencode, urlsplit

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
        records_of: The records of page n of the same view (same parent and filters).
        link: The ``next_page`` value (URL or cursor) that points at page n.
        path: The request's path, e.g. ``/v1/campaigns/c_1/replies``; default ``/v1/<resource>``.
        filters: The request's filter parameters, which ``next_page`` links carry.
    """

    resource: str
    number: int
    response: Response
    records_of: Callable[[int], list[dict[str, Any]]]
    link: Callable[[int], str]
    path: str = ""
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def endpoint(self) -> str:
        """The path this page was requested at."""
        return self.path or f"{pages.API_PREFIX}{self.resource}"

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
    ``X-RateLimit-Reset``. ``reset_in_s`` sets ``X-RateLimit-Reset`` when the answer is
    served: that many seconds later, rounded up to the whole epoch second the API sends (a
    reset fixed when the fault is injected shrinks by however long the client takes to come).
    Typical: ``Status(429, {"Retry-After": "3"})``, ``Status(429, reset_in_s=4)``.
    """

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    reset_in_s: float | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.code <= 599:
            raise ValueError(f"Status needs an error status 400..599, got {self.code}")

    def apply(self, page: Page) -> Response:
        body = self.body
        if body is None:
            fallback = "api_error" if self.code >= 500 else "invalid_request_error"
            reason, message = _REASONS.get(self.code, (fallback, "The request failed."))
            body = pages.render_error(reason, message)
        headers = {**page.response.headers, **self.headers}
        if self.reset_in_s is not None:
            headers["X-RateLimit-Reset"] = str(math.ceil(time.time() + self.reset_in_s))
        return Response(self.code, body, headers)


@dataclass(frozen=True)
class Redirect(Fault):
    """Answer ``status`` (3xx) with ``Location: location`` and the body ``{}``.

    ``location`` is sent as given: absolute, relative, or pointing anywhere.
    Typical: ``Redirect(sandbox.base_url + "leads?page=2")``, ``Redirect("/v1/leads", 301)``.
    """

    location: str
    status: int = 302

    def __post_init__(self) -> None:
        if not 300 <= self.status <= 399:
            raise ValueError(f"Redirect needs a status 300..399, got {self.status}")
        _check_header("Location", self.location)

    def apply(self, page: Page) -> Response:
        return Response(self.status, b"{}", {**page.response.headers, "Location": self.location})


@dataclass(frozen=True)
class Headers(Fault):
    """The normal 200 with ``headers`` added, replacing same-named ones (any case).

    Replaces the rate limiter's headers and the defaults (Content-Type, Content-Length,
    Connection) too. Typical: ``Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset":
    str(int(time.time()) + 3600)})``.
    """

    headers: dict[str, str]

    def __post_init__(self) -> None:
        for name, value in self.headers.items():
            _check_header(name, value)

    def apply(self, page: Page) -> Response:
        given = {name.lower() for name in self.headers}
        kept = {k: v for k, v in page.response.headers.items() if k.lower() not in given}
        return dataclasses.replace(page.response, headers={**kept, **self.headers})


def _check_header(name: str, value: str) -> None:
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise ValueError(f"not a header name: {name!r}")
    if not isinstance(value, str) or re.search(r"[\r\n\x00]", value):
        raise ValueError(f"header {name} needs a one-line string value, got {value!r}")


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
    """A 200 with half the body, then a close.

    With ``content_length`` (the default) it announces the full Content-Length, so a client can
    tell the body is short (``IncompleteRead``). Without, it sends no Content-Length but
    ``Connection: close``: a close-delimited body that a client reads as complete, yet is cut
    JSON.
    """

    content_length: bool = True

    def apply(self, page: Page) -> Response:
        cut = "truncate" if self.content_length else "truncate_close"
        return dataclasses.replace(page.response, cut=cut)


@dataclass(frozen=True)
class Trickle(Fault):
    """The normal 200, but written one byte at a time with ``interval_s`` between bytes.

    A client whose timeout applies per socket read never times out; only a total deadline
    stops it. By default the status line and headers go out at once and only the body trickles;
    with ``headers`` they trickle too. Writing stops when the server stops or the client hangs
    up. ``Trickle(0.05)`` on a 20 kB page takes about 17 minutes.
    """

    interval_s: float = 0.05
    headers: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.interval_s < math.inf:
            raise ValueError(f"Trickle needs finite interval_s > 0, got {self.interval_s}")

    def apply(self, page: Page) -> Response:
        return dataclasses.replace(
            page.response, trickle=self.interval_s, trickle_headers=self.headers
        )


@dataclass(frozen=True)
class MissingResourceKey(Fault):
    """A 200 success envelope without the ``<resource>`` key."""

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        body.pop(page.resource, None)
        return page.with_body(body)


@dataclass(frozen=True)
class RecordsNotAList(Fault):
    """A 200 success envelope whose ``<resource>`` holds ``value`` (null, an object, a string)
    instead of the list of records: a client that wraps it as one record loses the page."""

    value: Any = None

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        body[page.resource] = self.value
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
class EndsEarly(Fault):
    """The page ends the list: ``has_more`` false and no ``next_page``, as an API bug, a cache
    or a proxy cutting the list would; with ``empty`` it has no records either.

    Nothing in the answer says that later pages exist: a client cannot tell it from the end.
    """

    empty: bool = False

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        body.update(has_more=False, next_page=None)
        if self.empty:
            body[page.resource] = []
        return page.with_body(body)


@dataclass(frozen=True)
class DuplicateRecord(Fault):
    """The page also carries (appended) the first record of the previous page.

    Page 1 gets the first record of page 2 instead, or its own first record if there is no
    page 2; an empty page with nothing to copy is served unchanged. The set of ids is the same.
    With ``changes`` (top-level keys and values) the copy differs from the first serving, as a
    record updated while a read pages through it: ``DuplicateRecord({"sent_count": 9})``.
    """

    changes: dict[str, Any] | None = None

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        rows = body.get(page.resource, [])
        source = page.records_of(page.number - 1 if page.number > 1 else 2) or rows
        if not source:
            return page.response
        rows.append({**source[0], **(self.changes or {})})
        return page.with_body(body)


@dataclass(frozen=True)
class HasMoreWithoutNextPage(Fault):
    """The normal page (records kept), but ``has_more: true`` and no usable ``next_page``.

    ``next_page`` is sent as given: None (the default) sends ``null``, ``""`` the other classic.
    A contradiction: a client must stop or fail, not loop on page 1. Users' single-page
    envelope, normally bare, gets both keys.
    """

    next_page: str | None = None

    def apply(self, page: Page) -> Response:
        rows = page.envelope().get(page.resource, [])
        body = pages.render(page.resource, rows, True, self.next_page, bare=False)
        return dataclasses.replace(page.response, body=body)


def _next_link(page: Page) -> tuple[dict[str, Any], str, SplitResult] | None:
    """The page's envelope, its ``next_page`` and that split as a URL; None without one."""
    body = page.envelope()
    link = body.get("next_page")
    if not link:
        return None
    return body, link, urlsplit(link)


@dataclass(frozen=True)
class ForeignNextPage(Fault):
    """The normal page, but ``next_page`` (when it has one) points at another ``origin``.

    In url page mode it keeps the path and query: origin ``http://127.0.0.1:9`` turns page 2's
    link into ``http://127.0.0.1:9/v1/leads?page=3``. In token mode the cursor becomes an
    absolute URL too: ``<origin><request path>?next_page=<cursor>``. A client that follows it
    would send its API key to that host.
    """

    origin: str

    def __post_init__(self) -> None:
        split = urlsplit(self.origin)
        if (
            split.scheme not in ("http", "https")
            or not split.netloc
            or split.path not in ("", "/")
            or split.query
            or split.fragment
        ):
            raise ValueError(
                f"ForeignNextPage needs an origin like http://host:port, got {self.origin!r}"
            )

    def apply(self, page: Page) -> Response:
        found = _next_link(page)
        if found is None:
            return page.response
        body, link, split = found
        if split.scheme:
            target = split.path + (f"?{split.query}" if split.query else "")
        else:
            target = f"{page.endpoint}?{urlencode({'next_page': link})}"
        body["next_page"] = self.origin.rstrip("/") + target
        return page.with_body(body)


@dataclass(frozen=True)
class RelativeNextPage(Fault):
    """The normal page, but ``next_page`` (when it has one) is a relative reference.

    It is path-absolute, ``<request path>?page=<n+1>`` (no scheme, no host; plus the request's
    filters), in either page mode; the server answers ``?page=`` in both. A client must resolve
    it against the URL it fetched, or fail clearly.
    """

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        if not body.get("next_page"):
            return page.response
        query = urlencode({"page": page.number + 1, **dict(page.filters)})
        body["next_page"] = f"{page.endpoint}?{query}"
        return page.with_body(body)


@dataclass(frozen=True)
class NextPageElsewhere(Fault):
    """The normal page, but ``next_page`` (when it has one) points at another endpoint of the
    same API: ``<path>?page=<n+1>`` on the request's origin, e.g. another campaign's leads. A
    client that follows it loads that endpoint's records as this one's."""

    path: str

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"NextPageElsewhere needs a path like /v1/users, got {self.path!r}")

    def apply(self, page: Page) -> Response:
        found = _next_link(page)
        if found is None:
            return page.response
        body, _, split = found
        origin = f"{split.scheme}://{split.netloc}" if split.scheme else ""
        body["next_page"] = f"{origin}{self.path}?{urlencode({'page': page.number + 1})}"
        return page.with_body(body)


@dataclass(frozen=True)
class RepeatedPage(Fault):
    """The page serves the records of page ``source`` instead of its own.

    It keeps its own ``has_more`` and ``next_page``, so a walk sees one page's records twice
    and this page's never: the same number of pages, records lost. ``source`` defaults to the
    previous page (page 1 is then served unchanged); a page past the end gives no records.
    """

    source: int | None = None

    def __post_init__(self) -> None:
        if self.source is not None and self.source < 1:
            raise ValueError(f"RepeatedPage needs a source page >= 1, got {self.source}")

    def apply(self, page: Page) -> Response:
        source = self.source if self.source is not None else page.number - 1
        if source < 1 or source == page.number:
            return page.response
        body = page.envelope()
        body[page.resource] = page.records_of(source)
        return page.with_body(body)


@dataclass(frozen=True)
class ReplaceRecord(Fault):
    """The page's record at ``position`` (0-based) is replaced by ``value``, any JSON value.

    E.g. ``ReplaceRecord(0, "l_123")``, ``ReplaceRecord(3, None)``, ``ReplaceRecord(1, [])``.
    A page with no record at ``position`` is served unchanged. The record it hides is
    ``sandbox.served_record(resource, page, position)``.
    """

    position: int
    value: Any

    def __post_init__(self) -> None:
        _check_position(self.position)

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        rows = body.get(page.resource)
        if not isinstance(rows, list) or self.position >= len(rows):
            return page.response
        rows[self.position] = self.value
        return page.with_body(body)


@dataclass(frozen=True)
class PatchRecord(Fault):
    """The page's record at ``position`` (0-based) gets ``value`` at the nested key ``path``.

    With ``remove`` it loses that key instead. E.g. ``PatchRecord(0, ("data",))`` sends
    ``"data": null``, ``PatchRecord(0, ("status",), {"name": "x"})`` an object status,
    ``PatchRecord(0, ("sent_count",), 2**70)`` an integer no int64 holds (the JSON is exact),
    ``PatchRecord(0, ("id",), remove=True)`` a record without id. Setting turns missing or
    non-object parents into objects; removing a missing key, or a position past the page's
    end, serves the page unchanged. ``path`` may be a string for one key. The record before
    the patch (e.g. its id) is ``sandbox.served_record(resource, page, position)``.
    """

    position: int
    path: tuple[str, ...]
    value: Any = None
    remove: bool = False

    def __post_init__(self) -> None:
        _check_position(self.position)
        path = (self.path,) if isinstance(self.path, str) else tuple(self.path)
        if not path or not all(isinstance(key, str) for key in path):
            raise ValueError(f"PatchRecord needs a path of one or more keys, got {self.path!r}")
        if self.remove and self.value is not None:
            raise ValueError("PatchRecord removes or sets a value, not both")
        object.__setattr__(self, "path", path)

    def apply(self, page: Page) -> Response:
        body = page.envelope()
        rows = body.get(page.resource)
        if not isinstance(rows, list) or self.position >= len(rows):
            return page.response
        target, (*parents, last) = rows[self.position], self.path
        if self.remove:
            for key in parents:
                target = target.get(key) if isinstance(target, dict) else None
            if not isinstance(target, dict) or last not in target:
                return page.response
            del target[last]
        elif isinstance(target, dict):
            for key in parents:
                if not isinstance(target.get(key), dict):
                    target[key] = {}
                target = target[key]
            target[last] = self.value
        else:
            return page.response
        return page.with_body(body)


@dataclass(frozen=True)
class EscapeSlashes(Fault):
    """The answer of ``inner`` (the normal one if None) with every ``/`` in its JSON written
    ``\\/``, as PHP's json_encode does by default: the same data, other bytes. E.g.
    ``EscapeSlashes(PatchRecord(1, ("email",), key))`` serves a record holding a key with a
    slash that a search of the raw body for the key as sent would miss."""

    inner: Fault | None = None

    def apply(self, page: Page) -> Response:
        response = self.inner.apply(page) if self.inner is not None else page.response
        return dataclasses.replace(response, body=response.body.replace(b"/", b"\\/"))


def _check_position(position: int) -> None:
    if position < 0:
        raise ValueError(f"position is 0-based, got {position}")


KINDS: dict[str, type[Fault]] = {
    "status": Status,
    "delay": Delay,
    "reset": Reset,
    "invalid_json": InvalidJson,
    "truncated": Truncated,
    "truncated_close": Truncated,
    "missing_resource_key": MissingResourceKey,
    "error_envelope": ErrorEnvelope,
    "empty_page_has_more": EmptyPageHasMore,
    "duplicate_record": DuplicateRecord,
    "has_more_without_next_page": HasMoreWithoutNextPage,
    "trickle": Trickle,
    "trickle_headers": Trickle,
    "foreign_next_page": ForeignNextPage,
    "relative_next_page": RelativeNextPage,
    "next_page_elsewhere": NextPageElsewhere,
    "redirect": Redirect,
    "headers": Headers,
    "replace_record": ReplaceRecord,
    "patch_record": PatchRecord,
    "repeated_page": RepeatedPage,
    "ends_early": EndsEarly,
}


@dataclass(frozen=True)
class Injection:
    """A queued fault: which requests it matches and how many uses are left."""

    resource: str
    page: int | None  # None: any page; per-parent resources: the page of any parent's sequence
    fault: Fault
    times: int
    parent: str | None = None  # per-parent resources: only this parent's requests; None: any


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

    def take(self, resource: str, page: int, parent: str | None = None) -> Fault | None:
        """Consume one use of the first injection matching ``resource``, ``page`` and
        ``parent``."""
        with self._lock:
            for i, injection in enumerate(self._queue):
                if (
                    injection.resource == resource
                    and injection.page in (None, page)
                    and injection.parent in (None, parent)
                ):
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

    ``ARGS`` lists the kinds that take an ARG and its syntax; the others take none. A trailing
    ``xN`` is always the number of uses (default 1), so an ARG cannot end in ``x<digits>``.

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
    parse = _PARSERS.get(kind)
    if parse is None:
        if arg is not None:
            raise ValueError(f"bad fault {spec!r}: {kind} takes no argument")
        return _VARIANTS.get(kind) or KINDS[kind]()
    try:
        return parse(arg)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad fault {spec!r}: {exc}; {kind} takes {ARGS[kind]}") from None


def _ends_early(arg: str | None) -> Fault:
    if arg not in (None, "empty"):
        raise ValueError(f"ends_early takes nothing or 'empty', got {arg!r}")
    return EndsEarly(empty=arg == "empty")


def _required(arg: str | None) -> str:
    if not arg:
        raise ValueError("missing argument")
    return arg


def _pairs(text: str) -> dict[str, str]:
    """``Name=Value,Name=Value`` as a dict; ValueError on a pair without ``=``."""
    pairs: dict[str, str] = {}
    for pair in text.split(","):
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"expected Name=Value, got {pair!r}")
        pairs[name.strip()] = value.strip()
    return pairs


def _status(arg: str | None) -> Fault:
    code, comma, pairs = _required(arg).partition(",")
    return Status(int(code), _pairs(pairs) if comma else {})


def _redirect(arg: str | None) -> Fault:
    text = _required(arg)
    status = re.match(r"([0-9]{3}),", text)
    if status:
        return Redirect(text[status.end() :], int(status[1]))
    return Redirect(text)


def _has_more_without_next_page(arg: str | None) -> Fault:
    if arg not in (None, "empty"):
        raise ValueError(f"expected nothing or 'empty', got {arg!r}")
    return HasMoreWithoutNextPage(None if arg is None else "")


def _record_fault(arg: str | None) -> tuple[int, str | None]:
    position, comma, rest = _required(arg).partition(",")
    return int(position), rest if comma else None


def _replace_record(arg: str | None) -> Fault:
    position, value = _record_fault(arg)
    return ReplaceRecord(position, json.loads(value) if value is not None else None)


def _patch_record(arg: str | None) -> Fault:
    position, change = _record_fault(arg)
    path, equals, value = _required(change).partition("=")
    keys = tuple(path.split("."))
    if not equals:
        return PatchRecord(position, keys, remove=True)
    return PatchRecord(position, keys, json.loads(value))


# kind -> how it reads its ARG; kinds not listed take none.
_PARSERS: dict[str, Callable[[str | None], Fault]] = {
    "status": _status,
    "delay": lambda arg: Delay(float(_required(arg))),
    "has_more_without_next_page": _has_more_without_next_page,
    "trickle": lambda arg: Trickle() if arg is None else Trickle(float(arg)),
    "trickle_headers": lambda arg: (
        Trickle(headers=True) if arg is None else Trickle(float(arg), headers=True)
    ),
    "foreign_next_page": lambda arg: ForeignNextPage(_required(arg)),
    "next_page_elsewhere": lambda arg: NextPageElsewhere(_required(arg)),
    "redirect": _redirect,
    "headers": lambda arg: Headers(_pairs(_required(arg))),
    "replace_record": _replace_record,
    "patch_record": _patch_record,
    "repeated_page": lambda arg: RepeatedPage(None if arg is None else int(arg)),
    "ends_early": _ends_early,
}
# kind -> its ARG's syntax, for error messages and --help.
ARGS: dict[str, str] = {
    "status": "CODE[,Name=Value...]",
    "delay": "SECONDS",
    "has_more_without_next_page": '[empty] (next_page null, or "")',
    "trickle": "[SECONDS between bytes, default 0.05]",
    "trickle_headers": "[SECONDS] (status line and headers trickle too)",
    "foreign_next_page": "ORIGIN, e.g. http://127.0.0.1:9",
    "next_page_elsewhere": "PATH, e.g. /v1/campaigns/c_x/leads",
    "redirect": "[STATUS,]URL (STATUS 3xx, default 302)",
    "headers": "Name=Value[,Name=Value...]",
    "replace_record": "POSITION[,JSON] (0-based; JSON default null)",
    "patch_record": "POSITION,KEY[.KEY...]=JSON to set, POSITION,KEY[.KEY...] to remove",
    "repeated_page": "[SOURCE page, default the previous one]",
    "ends_early": "[empty]",
}

# kinds that take no ARG but are not their class's default instance.
_VARIANTS: dict[str, Fault] = {"truncated_close": Truncated(content_length=False)}
