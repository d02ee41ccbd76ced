"""A local fake of PersistIq's v1 list endpoints, served over real HTTP on 127.0.0.1.

``SandboxServer`` serves ``GET /v1/<table>`` for every table of ``analytics_assets.schema`` with
the API's envelope, pagination (``next_page`` as a URL or an opaque cursor), API-key auth and
error envelopes. Pages are rendered to bytes once and cached, so the server is never the
bottleneck of a client under test.

Every request goes through ``SandboxServer.handle``: parse, authenticate, route, ``_respond``,
then the ``_before_respond`` hook, then the request log. The hook applies the rate limit
(``SandboxConfig.rate_limit``, see ``ratelimit``) and then injected faults (``inject``, see
``faults``); with neither configured it costs two attribute checks.
"""

from __future__ import annotations

import copy
import hmac
import random
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from analytics_assets.sandbox import pages
from analytics_assets.sandbox.data import generate
from analytics_assets.sandbox.defects import apply_defects, validate
from analytics_assets.sandbox.fakes import LEAD_STATUSES, iso
from analytics_assets.sandbox.faults import Fault, FaultTable, Injection, Page
from analytics_assets.sandbox.ratelimit import RateLimiter, too_many_requests
from analytics_assets.sandbox.transport import HOST, LoopbackServer, Response
from analytics_assets.schema import TABLES

API_PREFIX = pages.API_PREFIX
FILTERABLE = frozenset({"leads"})  # resources that honour ``updated_after``
BARE_WHEN_SINGLE_PAGE = frozenset({"users"})  # the real API omits has_more/next_page for these
LOG_LIMIT = 100_000  # oldest request-log entries are dropped beyond this
_RESOURCES = frozenset(table.name for table in TABLES)
_MAX_VIEWS = 64  # cached filtered views (one per distinct updated_after) before resetting


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves; every field has the default the demo and tests rely on.

    Attributes:
        api_key: The key clients must send.
        key_header: The header that carries it (matched case-insensitively).
        users: Number of users.
        leads: Number of leads.
        campaigns: Number of campaigns.
        seed: Seed of the generated data.
        page_size: Rows per page.
        page_mode: ``url``: next_page is an absolute URL carrying only ``page``; ``token``:
            next_page is an opaque cursor the client sends back as ``?next_page=<token>``.
        defects: Names from ``defects.DEFECTS`` to inject.
        bare_single_page: Omit has_more/next_page for users when they fit on one page.
        rate_limit: Authenticated requests allowed per window, as the real API's 100/minute;
            None (the default) serves without limit and without X-RateLimit-* headers.
        rate_window_s: The rate-limit window in seconds (short ones make fast tests).
    """

    api_key: str = "sandbox-key"
    key_header: str = "x-api-key"
    users: int = 25
    leads: int = 2500
    campaigns: int = 40
    seed: int = 7
    page_size: int = 100
    page_mode: Literal["url", "token"] = "url"
    defects: tuple[str, ...] = ()
    bare_single_page: bool = True
    rate_limit: int | None = None
    rate_window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.page_mode not in ("url", "token"):
            raise ValueError(f"page_mode must be 'url' or 'token', got {self.page_mode!r}")
        if self.page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {self.page_size}")
        if min(self.users, self.leads, self.campaigns) < 0:
            raise ValueError("record counts must not be negative")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1 or None, got {self.rate_limit}")
        if not 0 < self.rate_window_s < float("inf"):
            raise ValueError(f"rate_window_s must be positive, got {self.rate_window_s}")
        object.__setattr__(self, "defects", validate(self.defects))

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table name."""
        return {"users": self.users, "leads": self.leads, "campaigns": self.campaigns}


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it. Never holds the API key."""

    time: float  # time.monotonic() when the request arrived
    method: str
    path: str  # without the query string
    query: dict[str, str]
    status: int  # 0 when no complete response was sent (faults Reset and Truncated)
    resource: str | None  # None when the path matched no resource
    page: int | None  # None when no page was resolved (auth failure, bad params, 404)
    fault: str | None = None  # the injected fault's kind, e.g. "Status"; None if not faulted


@dataclass
class Request:
    """A parsed request, as passed to ``_respond`` and the ``_before_respond`` hook."""

    method: str
    path: str
    query: dict[str, str]
    resource: str | None = None
    page: int | None = None
    authenticated: bool = False
    cutoff: datetime | None = None  # the parsed updated_after filter
    fault: str | None = None  # set by the hook when a fault was applied


class _BadParams(ValueError):
    pass


@dataclass
class _View:
    """One resource under one filter, with its pages' bytes rendered on first request."""

    records: list[dict[str, Any]]
    rendered: dict[int, bytes] = field(default_factory=dict)


class SandboxServer:
    """The fake API. Use as a context manager, or ``start()`` / ``stop()``.

    Args:
        config: Behaviour; defaults to ``SandboxConfig()``.
        port: Port on 127.0.0.1; 0 picks a free one (read it from ``.port`` after start).
    """

    def __init__(self, config: SandboxConfig | None = None, port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self._requested_port = port
        self._port: int | None = None
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: deque[LoggedRequest] = deque(maxlen=LOG_LIMIT)
        self._changes = 0
        self._dataset = generate(self.config.counts, self.config.seed)
        self._defect_ids = apply_defects(
            self._dataset, self.config.defects, self.config.seed, self.config.page_size
        )
        self._views: dict[tuple[str, datetime | None], _View] = {}
        self._faults = FaultTable()
        self._limiter = (
            RateLimiter(self.config.rate_limit, self.config.rate_window_s)
            if self.config.rate_limit is not None
            else None
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Bind 127.0.0.1 and serve from a background thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("sandbox already started")
        httpd = LoopbackServer(self._requested_port, self)
        self._port = httpd.server_address[1]
        with self._lock:
            self._views = {}  # next_page URLs embed the port
        try:
            self._prerender(self.resources)
        except BaseException:
            httpd.server_close()
            raise
        # A short poll interval keeps stop() fast; idle polling costs nothing measurable.
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self._port}",
            daemon=True,
        )
        self._httpd = httpd
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open keep-alive connections. Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port; RuntimeError before ``start()``."""
        if self._port is None:
            raise RuntimeError("sandbox not started")
        return self._port

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:PORT/v1/``."""
        return f"http://{HOST}:{self.port}{API_PREFIX}"

    # -- data --------------------------------------------------------------------------------

    @property
    def resources(self) -> tuple[str, ...]:
        """The served resource names, in schema order."""
        return tuple(table.name for table in TABLES)

    def records(self, resource: str) -> list[dict[str, Any]]:
        """A copy of every record of ``resource`` exactly as served (after defects), in order."""
        with self._lock:
            return copy.deepcopy(self._rows(resource))

    def served_record(self, resource: str, page: int, position: int) -> dict[str, Any] | None:
        """A copy of the record served at ``position`` (0-based) of ``page`` (1-based), unfiltered.

        That is the record a ``ReplaceRecord`` or ``PatchRecord`` there hides, e.g. to learn its
        id. None when the page has no record at ``position``.
        """
        if page < 1 or position < 0:
            raise ValueError(f"page starts at 1 and position at 0, got {page} and {position}")
        if position >= self.config.page_size:
            return None
        index = (page - 1) * self.config.page_size + position
        with self._lock:
            rows = self._rows(resource)
            return copy.deepcopy(rows[index]) if index < len(rows) else None

    def updated_at(self, resource: str) -> list[datetime]:
        """The server-side update times, aligned with ``records(resource)``."""
        with self._lock:
            self._rows(resource)
            return list(self._dataset.updated_at[resource])

    @property
    def defect_ids(self) -> dict[str, list[str]]:
        """Enabled defect name -> ids of the records it altered."""
        return {name: list(ids) for name, ids in self._defect_ids.items()}

    def change_leads(self, n: int) -> list[str]:
        """Change ``n`` leads deterministically, as if they had been worked on just now.

        Each lead gets a different status, one more email sent and ``last_sent_at`` and
        ``updated_at`` set to now; leads hit by a defect are left alone. Successive calls pick
        different (seed-determined) leads.

        Returns:
            The changed leads' ids, in served order.
        """
        with self._lock:
            leads = self._dataset.records["leads"]
            stamps = self._dataset.updated_at["leads"]
            spoiled = {i for ids in self._defect_ids.values() for i in ids}
            candidates = [i for i, lead in enumerate(leads) if lead["id"] not in spoiled]
            if not 0 <= n <= len(candidates):
                raise ValueError(f"can change 0..{len(candidates)} leads, not {n}")
            rng = random.Random(f"{self.config.seed}:change:{self._changes}")
            self._changes += 1
            chosen = sorted(rng.sample(candidates, n))
            now = datetime.now(UTC)
            for i in chosen:
                # Copy on write: views being rendered keep the records they were built from.
                leads[i] = _touched(leads[i], now)
                stamps[i] = now
            self._views = {}
            changed = [leads[i]["id"] for i in chosen]
        if self._httpd is not None:
            self._prerender(("leads",))
        return changed

    # -- faults --------------------------------------------------------------------------------

    def inject(self, resource: str, fault: Fault, page: int | None = None, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests of ``resource`` (on ``page``).

        Faults match in injection order: a request consumes one use of the first queued
        injection for its resource and page, then normal service resumes once all are used up.
        Only authenticated requests with a resolved page can be faulted. Thread-safe; works
        before and after ``start()``.

        Args:
            resource: A served resource, e.g. ``leads``.
            fault: A fault from ``faults``, e.g. ``Status(503)``.
            page: The 1-based page to hit; None hits any page.
            times: How many matching requests get the fault.
        """
        if resource not in self.resources:
            raise ValueError(f"no resource {resource!r}; have {self.resources}")
        if not isinstance(fault, Fault):
            raise TypeError(f"not a fault: {fault!r}")
        if page is not None and page < 1:
            raise ValueError(f"page must be at least 1 or None, got {page}")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        self._faults.add(Injection(resource, page, fault, times))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        self._faults.clear()

    @property
    def pending_faults(self) -> list[Injection]:
        """The queued faults with uses left, in matching order."""
        return self._faults.pending()

    # -- request log ---------------------------------------------------------------------------

    @property
    def request_log(self) -> list[LoggedRequest]:
        """A snapshot of the requests served so far, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the logged requests."""
        with self._lock:
            self._log.clear()

    # -- request handling ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Response:
        """Answer one request; called by the HTTP handler from its own thread.

        Args:
            method: The HTTP method.
            target: The request target (path and query string).
            headers: The request headers, looked up case-insensitively.
        """
        arrived = time.monotonic()
        split = urlsplit(target)
        request = Request(method, split.path, dict(parse_qsl(split.query, keep_blank_values=True)))
        try:
            response = self._route(request, headers)
        except Exception:  # a sandbox bug must surface as a 500, not a dropped connection
            traceback.print_exc(file=sys.stderr)
            response = _error(500, "api_error", "A server-side problem occurred.")
        response = self._before_respond(request, response)
        query = {k: "***" if v == self.config.api_key else v for k, v in request.query.items()}
        status = 0 if response.cut else response.status
        entry = LoggedRequest(
            arrived,
            method,
            request.path,
            query,
            status,
            request.resource,
            request.page,
            request.fault,
        )
        with self._lock:
            self._log.append(entry)
        return response

    def _route(self, request: Request, headers: Mapping[str, str]) -> Response:
        supplied = headers.get(self.config.key_header)
        # compare_digest: the sandbox is a model of a real auth check, keep it constant-time.
        if supplied is None or not hmac.compare_digest(
            supplied.encode(), self.config.api_key.encode()
        ):
            return _error(
                401,
                "unauthorized",
                f"Failed to find api key. Did you set header '{self.config.key_header}'?",
            )
        request.authenticated = True
        resource = _resource(request.path)
        if resource is None:
            return _error(404, "not_found", "The specified data could not be found.")
        request.resource = resource
        if request.method != "GET":
            return _error(405, "invalid_request", f"The sandbox serves only GET {request.path}.")
        try:
            page = self._page(resource, request.query)
            request.cutoff = _updated_after(request.query) if resource in FILTERABLE else None
        except _BadParams as exc:
            return _error(400, "bad_params", str(exc))
        request.page = page
        return self._respond(resource, page, request.cutoff)

    def _page(self, resource: str, query: dict[str, str]) -> int:
        token = query.get("next_page")
        try:
            if token is None:
                return pages.parse_page(query.get("page", "1"))
            if self.config.page_mode == "token":
                return pages.decode_token(resource, token)
        except ValueError as exc:
            raise _BadParams(str(exc)) from None
        # Ignoring it, as an API would, makes a misconfigured client loop on page 1 forever.
        raise _BadParams(
            "next_page is a URL to follow in this sandbox's url page mode; send page=<n> instead"
        )

    def _respond(self, resource: str, page: int, cutoff: datetime | None) -> Response:
        """The 200 response for one page of ``resource`` (filtered by ``cutoff``), cached."""
        view = self._view(resource, cutoff)
        body = view.rendered.get(page)
        if body is None:
            body = self._render(resource, view.records, page)
            last = pages.page_count(len(view.records), self.config.page_size)
            if page <= last:  # do not let arbitrary page numbers grow the cache
                view.rendered[page] = body
        return Response(200, body)

    def _before_respond(self, request: Request, response: Response) -> Response:
        """Hook run on every response before it is logged and written; returns the response.

        First the rate limit: every response gets the X-RateLimit-* headers, and a counted
        request over the limit is refused before any fault is consumed. Then the first matching
        injected fault, if any, replaces the normal answer (keeping those headers).
        """
        if self._limiter is not None:
            verdict = self._limiter.check(counted=request.authenticated)
            if not verdict.allowed:
                return Response(
                    429, too_many_requests(self._limiter.limit, verdict.reset), verdict.headers
                )
            response.headers.update(verdict.headers)
        if self._faults and request.resource and request.page and response.status == 200:
            fault = self._faults.take(request.resource, request.page)
            if fault is not None:
                request.fault = fault.kind
                response = fault.apply(self._page_for_faults(request, response))
        return response

    def _page_for_faults(self, request: Request, response: Response) -> Page:
        resource, size = request.resource or "", self.config.page_size
        records = self._view(resource, request.cutoff).records
        return Page(
            resource,
            request.page or 1,
            response,
            records_of=lambda n: records[(n - 1) * size : n * size] if n >= 1 else [],
            link=lambda n: self._link(resource, n),
        )

    def _prerender(self, resources: tuple[str, ...]) -> None:
        """Render every unfiltered page now, so that even a first walk is served from bytes."""
        for resource in resources:
            view = self._view(resource, None)
            for page in range(1, pages.page_count(len(view.records), self.config.page_size) + 1):
                view.rendered[page] = self._render(resource, view.records, page)

    def _view(self, resource: str, cutoff: datetime | None) -> _View:
        key = (resource, cutoff)
        with self._lock:
            view = self._views.get(key)
            if view is None:
                if len(self._views) >= _MAX_VIEWS:
                    self._views = {}
                rows = self._rows(resource)
                if cutoff is not None:
                    stamps = self._dataset.updated_at[resource]
                    rows = [row for row, stamp in zip(rows, stamps, strict=True) if stamp > cutoff]
                view = self._views[key] = _View(list(rows))
            return view

    def _render(self, resource: str, rows: list[dict[str, Any]], page: int) -> bytes:
        size = self.config.page_size
        last = pages.page_count(len(rows), size)
        has_more = page < last
        next_page = self._link(resource, page + 1) if has_more else None
        bare = (
            self.config.bare_single_page and resource in BARE_WHEN_SINGLE_PAGE and len(rows) <= size
        )
        return pages.render(
            resource, rows[(page - 1) * size : page * size], has_more, next_page, bare
        )

    def _link(self, resource: str, page: int) -> str:
        """The next_page value pointing at ``page``: a URL or an opaque cursor."""
        if self.config.page_mode == "url":
            return f"{self.base_url}{resource}?page={page}"
        return pages.encode_token(resource, page)

    def _rows(self, resource: str) -> list[dict[str, Any]]:
        try:
            return self._dataset.records[resource]
        except KeyError:
            raise KeyError(f"no resource {resource!r}; have {self.resources}") from None


def _resource(path: str) -> str | None:
    if not path.startswith(API_PREFIX):
        return None
    name = path[len(API_PREFIX) :].rstrip("/")
    return name if name in _RESOURCES else None


def _updated_after(query: dict[str, str]) -> datetime | None:
    raw = query.get("updated_after")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        # An unencoded '+01:00' offset arrives as ' 01:00'; accept what the client meant.
        try:
            moment = datetime.fromisoformat(raw.replace(" ", "+"))
        except ValueError:
            raise _BadParams(f"updated_after must be an ISO 8601 timestamp, got {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _touched(lead: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A worked copy of ``lead``: next status, one more email sent, last sent now."""
    lead = copy.deepcopy(lead)
    if "status" in lead:
        position = LEAD_STATUSES.index(lead["status"]) if lead["status"] in LEAD_STATUSES else -1
        lead["status"] = LEAD_STATUSES[(position + 1) % len(LEAD_STATUSES)]
    if "sent_count" in lead:
        sent = lead["sent_count"]
        lead["sent_count"] = sent + 1 if isinstance(sent, int) else 1
    if "last_sent_at" in lead:
        lead["last_sent_at"] = iso(now)
    return lead


def _error(status: int, reason: str, message: str) -> Response:
    return Response(status, pages.render_error(reason, message))
