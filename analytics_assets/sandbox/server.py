"""A local fake of PersistIq's v1 list endpoints, served over real HTTP on 127.0.0.1.

``SandboxServer`` serves ``GET /v1/<path>`` for every table of ``analytics_assets.schema``
(``/v1/leads``, ``/v1/campaigns/{campaign_id}/replies``, see ``routes``) with the API's
envelope, pagination (``next_page`` as a URL or an opaque cursor, carrying the request's
filters), filters (``filters``), API-key auth and error envelopes. A per-campaign endpoint pages
each campaign's records on its own and answers 404 for a campaign it does not know. Pages are
rendered to bytes once and cached, so the server is never the bottleneck of a client under test.

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
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from analytics_assets.sandbox import pages, routes
from analytics_assets.sandbox.activity import midnight, today_utc
from analytics_assets.sandbox.config import LoggedRequest, SandboxConfig, latency_of
from analytics_assets.sandbox.data import generate
from analytics_assets.sandbox.defects import apply_defects
from analytics_assets.sandbox.fakes import worked
from analytics_assets.sandbox.faults import Fault, FaultTable, Injection, Page
from analytics_assets.sandbox.filters import (
    UPDATED_AFTER_TABLES,
    Filters,
    parse_filters,
    record_moment,
)
from analytics_assets.sandbox.ratelimit import RateLimiter, too_many_requests
from analytics_assets.sandbox.store import Store
from analytics_assets.sandbox.transport import HOST, LoopbackServer, Response
from analytics_assets.schema import TABLES, TABLES_BY_NAME, Table

API_PREFIX = pages.API_PREFIX
FILTERABLE = UPDATED_AFTER_TABLES  # resources that honour ``updated_after``
BARE_WHEN_SINGLE_PAGE = frozenset({"users"})  # the real API omits has_more/next_page for these
# The OpenAPI gives these no page parameter: one page holds them all, and page is ignored.
UNPAGINATED = frozenset({"lead_fields", "lead_statuses"})
LOG_LIMIT = 100_000  # oldest request-log entries are dropped beyond this
_MAX_VIEWS = 64  # cached filtered views (one per distinct filter) before resetting
_NO_FILTERS = Filters()


@dataclass
class Request:
    """A parsed request, as passed to ``_respond`` and the ``_before_respond`` hook."""

    method: str
    path: str
    query: dict[str, str]
    resource: str | None = None
    parent: str | None = None  # the parent's id on a per-parent endpoint
    page: int | None = None
    authenticated: bool = False
    filters: Filters = _NO_FILTERS  # the parsed filters (updated_after, time window)
    fault: str | None = None  # set by the hook when a fault was applied


class _BadParams(ValueError):
    pass


_ViewKey = tuple[str, str | None, Filters]  # resource, parent, filters


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
        self.activity_end: date = self.config.activity_end or today_utc()
        """The day after the last day of activity (``activity_days``)."""
        self._requested_port = port
        self._port: int | None = None
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: deque[LoggedRequest] = deque(maxlen=LOG_LIMIT)
        self._in_flight = 0  # requests being answered now
        self._changes = 0
        dataset = generate(
            self.config.counts,
            self.config.seed,
            activity_end=self.activity_end,
            activity_days=self.config.activity_days,
        )
        self._defect_ids = apply_defects(
            dataset, self.config.defects, self.config.seed, self.config.page_size
        )
        self._store = Store(dataset)
        self._views: dict[_ViewKey, _View] = {}  # unfiltered: one per resource and parent
        self._filtered: dict[_ViewKey, _View] = {}  # bounded by _MAX_VIEWS
        self._vanishing: list[tuple[str, str]] = []  # delete_after_serving's (resource, id)
        self._faults = FaultTable()
        self._limiter = (
            RateLimiter(self.config.rate_limit, self.config.rate_window_s)
            if self.config.rate_limit is not None
            else None
        )
        self._latency_rng = random.Random(self.config.seed)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Bind 127.0.0.1 and serve from a background thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("sandbox already started")
        httpd = LoopbackServer(self._requested_port, self)
        self._port = httpd.server_address[1]
        with self._lock:
            self._views, self._filtered = {}, {}  # next_page URLs embed the port
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

    @property
    def activity_days(self) -> tuple[date, date]:
        """The activity's UTC days as a half-open range: (first day, ``activity_end``)."""
        first = date.fromordinal(self.activity_end.toordinal() - self.config.activity_days)
        return first, self.activity_end

    def records(self, resource: str, parent: str | None = None) -> list[dict[str, Any]]:
        """A copy of every record of ``resource`` exactly as served (after defects), in order.

        A per-campaign resource's records come grouped by campaign, in campaign order (every
        campaign's walk, concatenated); ``parent`` limits them to one campaign's. A campaign
        lead embeds the full lead record, as ``/leads`` serves it.
        """
        with self._lock:
            return copy.deepcopy(self._store.rows(resource, parent))

    def records_in_days(self, resource: str, start: date, end: date) -> list[dict[str, Any]]:
        """A copy of the records of ``resource`` whose window timestamp lies in UTC days
        [start, end): from midnight of ``start`` (included) to midnight of ``end`` (excluded).

        Records with a null window timestamp are in no day. ValueError for a table without a
        ``schema.Window``.
        """
        window = TABLES_BY_NAME[resource].window if resource in TABLES_BY_NAME else None
        if window is None:
            raise ValueError(f"{resource!r} has no time window")
        low, high = midnight(start), midnight(end)
        return [
            record
            for record in self.records(resource)
            if (moment := record_moment(record.get(window.column))) is not None
            and low <= moment < high
        ]

    def served_record(
        self, resource: str, page: int, position: int, parent: str | None = None
    ) -> dict[str, Any] | None:
        """A copy of the record served at ``position`` (0-based) of ``page`` (1-based), unfiltered.

        That is the record a ``ReplaceRecord`` or ``PatchRecord`` there hides, e.g. to learn its
        id. None when the page has no record at ``position``. ``parent``: the campaign of a
        per-campaign resource.
        """
        if page < 1 or position < 0:
            raise ValueError(f"page starts at 1 and position at 0, got {page} and {position}")
        if parent is None and resource in TABLES_BY_NAME and TABLES_BY_NAME[resource].parent:
            raise ValueError(f"{resource} is served per campaign: name the parent")
        with self._lock:
            rows = self._store.rows(resource, parent)
            size = self._size(resource, rows)
            index = (page - 1) * size + position
            in_page = position < size and index < len(rows)
            return copy.deepcopy(rows[index]) if in_page else None

    def updated_at(self, resource: str) -> list[datetime]:
        """The server-side update times, aligned with ``records(resource)``."""
        with self._lock:
            return list(self._store.updated_at(resource))

    @property
    def defect_ids(self) -> dict[str, list[str]]:
        """Enabled defect name -> ids of the records it altered."""
        return {name: list(ids) for name, ids in self._defect_ids.items()}

    def change_leads(self, n: int) -> list[str]:
        """Change ``n`` leads deterministically, as if they had been worked on just now.

        Each lead gets a different status, one more email sent and ``last_sent_at`` and
        ``updated_at`` set to now; leads hit by a defect are left alone. Successive calls pick
        different (seed-determined) leads. Campaign leads embedding them show the change too.

        Returns:
            The changed leads' ids, in served order.
        """
        with self._lock:
            leads = self._store.rows("leads")
            stamps = self._store.updated_at("leads")
            spoiled = {i for ids in self._defect_ids.values() for i in ids}
            candidates = [i for i, lead in enumerate(leads) if lead["id"] not in spoiled]
            if not 0 <= n <= len(candidates):
                raise ValueError(f"can change 0..{len(candidates)} leads, not {n}")
            rng = random.Random(f"{self.config.seed}:change:{self._changes}")
            self._changes += 1
            chosen = sorted(rng.sample(candidates, n))
            now = datetime.now(UTC)
            for i in chosen:
                stamps[i] = now
            # Copy on write: views being rendered keep the records they were built from.
            changed = self._store.replace("leads", {i: worked(leads[i], now) for i in chosen})
            self._forget_views(changed)
            ids = [leads[i]["id"] for i in chosen]
        if self._httpd is not None:
            self._prerender(tuple(changed))
        return ids

    def delete(self, resource: str, record_id: str) -> tuple[str, ...]:
        """Delete a record while serving, as if it were deleted in the app; thread-safe.

        It disappears from its endpoint. Deleting a campaign also deletes its campaign leads
        and replies, and its per-campaign endpoints then answer 404. Deleting a lead also ends
        its enrollments (campaign leads); replies and events that mention it stay.

        Returns:
            The resources whose records changed, in schema order.

        Raises:
            KeyError: ``resource`` has no record ``record_id``.
        """
        if resource not in self.resources:
            raise ValueError(f"no resource {resource!r}; have {self.resources}")
        with self._lock:
            changed = self._store.delete(resource, record_id)
            self._forget_views(changed)
        if self._httpd is not None:
            self._prerender(tuple(changed))
        return tuple(name for name in self.resources if name in changed)

    def delete_after_serving(self, resource: str, record_id: str) -> None:
        """Delete ``record_id`` right after the first page that lists it has been answered.

        Makes a record vanish mid-sync: e.g. ``delete_after_serving("campaigns", cid)`` lets a
        client read the campaigns page with ``cid``, and its next request for that campaign's
        leads or replies gets a 404. The deletion (as ``delete``) happens after the response is
        built and before it is sent, on the first 200 answer to a request for ``resource`` whose
        page (under the request's parent and filters, before any fault) holds the record.
        Queued deletions are forgotten by ``clear_faults``.

        Raises:
            KeyError: ``resource`` has no record ``record_id`` (now).
        """
        key = TABLES_BY_NAME[resource].primary_key if resource in TABLES_BY_NAME else "id"
        with self._lock:
            if not any(row.get(key) == record_id for row in self._store.rows(resource)):
                raise KeyError(f"{resource} has no record {record_id!r}")
            self._vanishing.append((resource, record_id))

    # -- faults --------------------------------------------------------------------------------

    def inject(
        self,
        resource: str,
        fault: Fault,
        page: int | None = None,
        times: int = 1,
        parent: str | None = None,
    ) -> None:
        """Queue ``fault`` for the next ``times`` requests of ``resource`` (on ``page``).

        Faults match in injection order: a request consumes one use of the first queued
        injection for its resource and page, then normal service resumes once all are used up.
        Only authenticated requests with a resolved page can be faulted (a 404 for an unknown
        campaign cannot). Thread-safe; works before and after ``start()``.

        Args:
            resource: A served resource, e.g. ``leads`` or ``replies``.
            fault: A fault from ``faults``, e.g. ``Status(503)``.
            page: The 1-based page to hit; None hits any page. For a per-campaign resource it
                is the page within each campaign's own sequence: ``page=2`` hits the next
                request for page 2 of any campaign (``parent`` narrows it to one).
            times: How many matching requests get the fault.
            parent: For a per-campaign resource, only that campaign's requests; None: any.
        """
        if resource not in self.resources:
            raise ValueError(f"no resource {resource!r}; have {self.resources}")
        if not isinstance(fault, Fault):
            raise TypeError(f"not a fault: {fault!r}")
        if page is not None and page < 1:
            raise ValueError(f"page must be at least 1 or None, got {page}")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        if parent is not None and TABLES_BY_NAME[resource].parent is None:
            raise ValueError(f"{resource} is not served per campaign: it takes no parent")
        self._faults.add(Injection(resource, page, fault, times, parent))

    def clear_faults(self) -> None:
        """Drop every queued fault (and deletion queued by ``delete_after_serving``)."""
        self._faults.clear()
        with self._lock:
            self._vanishing.clear()

    @property
    def pending_faults(self) -> list[Injection]:
        """The queued faults with uses left, in matching order."""
        return self._faults.pending()

    # -- request log ---------------------------------------------------------------------------

    @property
    def request_log(self) -> list[LoggedRequest]:
        """A snapshot of the requests served so far, oldest first.

        Per-campaign requests carry the campaign in ``parent`` (and in ``path``), so e.g.
        ``Counter(e.parent for e in log if e.resource == "replies")`` counts them per campaign.
        """
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
        with self._lock:
            self._in_flight += 1
            in_flight = self._in_flight
        try:
            return self._handle(arrived, in_flight, method, target, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _handle(
        self,
        arrived: float,
        in_flight: int,
        method: str,
        target: str,
        headers: Mapping[str, str],
    ) -> Response:
        split = urlsplit(target)
        request = Request(method, split.path, dict(parse_qsl(split.query, keep_blank_values=True)))
        try:
            response = self._route(request, headers)
        except Exception:  # a sandbox bug must surface as a 500, not a dropped connection
            traceback.print_exc(file=sys.stderr)
            response = _error(500, "api_error", "A server-side problem occurred.")
        response = self._before_respond(request, response)
        if self._vanishing and response.status == 200 and not response.cut:
            self._vanish_served(request)
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
            request.parent,
            in_flight,
        )
        with self._lock:
            self._log.append(entry)
            latency = latency_of(self.config, self._latency_rng)
        if latency:
            time.sleep(latency)  # this request's thread only: others are answered meanwhile
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
        route = routes.match(request.path)
        if route is None:
            return _error(404, "not_found", "The specified data could not be found.")
        request.resource, request.parent = route
        if request.method != "GET":
            return _error(405, "invalid_request", f"The sandbox serves only GET {request.path}.")
        table = TABLES_BY_NAME[route.resource]
        if route.parent is not None and not self._has_parent(route.resource, route.parent):
            return _parent_not_found(table, route.parent)
        try:
            page, query = self._page(route.resource, request.query)
            request.filters = parse_filters(table, query)
        except ValueError as exc:
            return _error(400, "bad_params", str(exc))
        request.page = page
        try:
            return self._respond(route.resource, route.parent, page, request.filters)
        except KeyError:
            if route.parent is None or self._has_parent(route.resource, route.parent):
                raise
            request.page = None  # the parent was deleted since the check above
            return _parent_not_found(table, route.parent)

    def _has_parent(self, resource: str, parent: str) -> bool:
        with self._lock:
            return self._store.has_parent(resource, parent)

    def _page(self, resource: str, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """The requested page, and the query with the filters a cursor carries."""
        if resource in UNPAGINATED:
            return 1, query
        token = query.get("next_page")
        if token is None:
            return pages.parse_page(query.get("page", "1")), query
        if self.config.page_mode == "token":
            page, carried = pages.decode_token(resource, token)
            return page, {**query, **carried}
        # Ignoring it, as an API would, makes a misconfigured client loop on page 1 forever.
        raise _BadParams(
            "next_page is a URL to follow in this sandbox's url page mode; send page=<n> instead"
        )

    def _respond(self, resource: str, parent: str | None, page: int, filters: Filters) -> Response:
        """The 200 response for one page of ``resource`` (of ``parent``, filtered), cached."""
        view = self._view(resource, parent, filters)
        body = view.rendered.get(page)
        if body is None:
            body = self._render(resource, parent, view.records, page, filters)
            last = pages.page_count(len(view.records), self._size(resource, view.records))
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
            fault = self._faults.take(request.resource, request.page, request.parent)
            if fault is not None:
                request.fault = fault.kind
                response = fault.apply(self._page_for_faults(request, response))
        return response

    def _page_for_faults(self, request: Request, response: Response) -> Page:
        resource, parent, filters = request.resource or "", request.parent, request.filters
        records = self._view(resource, parent, filters).records
        size = self._size(resource, records)
        return Page(
            resource,
            request.page or 1,
            response,
            records_of=lambda n: records[(n - 1) * size : n * size] if n >= 1 else [],
            link=lambda n: self._link(resource, parent, n, filters),
            path=API_PREFIX + routes.path_of(TABLES_BY_NAME[resource], parent),
            filters=filters.params,
        )

    def _vanish_served(self, request: Request) -> None:
        """Run the ``delete_after_serving`` deletions whose record this request's page listed."""
        if request.resource is None or request.page is None:
            return
        view = self._view(request.resource, request.parent, request.filters)
        size = self._size(request.resource, view.records)
        key = TABLES_BY_NAME[request.resource].primary_key
        listed = {row.get(key) for row in view.records[(request.page - 1) * size :][:size]}
        with self._lock:
            due = [(r, i) for r, i in self._vanishing if r == request.resource and i in listed]
            self._vanishing = [item for item in self._vanishing if item not in due]
        for resource, record_id in due:
            try:
                self.delete(resource, record_id)
            except KeyError:  # deleted meanwhile
                pass

    def _prerender(self, resources: tuple[str, ...]) -> None:
        """Render every unfiltered page now, so that even a first walk is served from bytes."""
        for resource in resources:
            for parent in self._parents(resource):
                view = self._view(resource, parent, _NO_FILTERS)
                last = pages.page_count(len(view.records), self._size(resource, view.records))
                for page in range(1, last + 1):
                    view.rendered[page] = self._render(
                        resource, parent, view.records, page, _NO_FILTERS
                    )

    def _parents(self, resource: str) -> list[str | None]:
        """[None] for a flat resource, else the ids of the parents it is served for."""
        if TABLES_BY_NAME[resource].parent is None:
            return [None]
        with self._lock:
            return list(self._store.parents(resource))

    def _view(self, resource: str, parent: str | None, filters: Filters) -> _View:
        key = (resource, parent, filters)
        with self._lock:
            cache = self._filtered if filters else self._views
            view = cache.get(key)
            if view is None:
                if filters and len(cache) >= _MAX_VIEWS:
                    cache.clear()
                rows = self._store.rows(resource, parent)
                if filters:
                    stamps = self._store.updated_at(resource, parent)
                    rows = filters.apply(rows, stamps)
                view = cache[key] = _View(list(rows))
            return view

    def _forget_views(self, resources: set[str]) -> None:
        """Drop the cached views of ``resources``; call with the lock held."""
        self._views = {k: v for k, v in self._views.items() if k[0] not in resources}
        self._filtered = {k: v for k, v in self._filtered.items() if k[0] not in resources}

    def _size(self, resource: str, rows: list[dict[str, Any]]) -> int:
        """Rows per page of ``resource``: one page holds them all when it is unpaginated."""
        return max(1, len(rows)) if resource in UNPAGINATED else self.config.page_size

    def _render(
        self,
        resource: str,
        parent: str | None,
        rows: list[dict[str, Any]],
        page: int,
        filters: Filters,
    ) -> bytes:
        size = self._size(resource, rows)
        last = pages.page_count(len(rows), size)
        has_more = page < last
        next_page = self._link(resource, parent, page + 1, filters) if has_more else None
        bare = (
            self.config.bare_single_page and resource in BARE_WHEN_SINGLE_PAGE and len(rows) <= size
        )
        return pages.render(
            resource, rows[(page - 1) * size : page * size], has_more, next_page, bare
        )

    def _link(self, resource: str, parent: str | None, page: int, filters: Filters) -> str:
        """The next_page value pointing at ``page``: a URL or an opaque cursor, with filters."""
        if self.config.page_mode == "url":
            path = routes.path_of(TABLES_BY_NAME[resource], parent)
            query = urlencode({"page": page, **dict(filters.params)}) if filters else f"page={page}"
            return f"{self.base_url}{path}?{query}"
        return pages.encode_token(resource, page, dict(filters.params))


def _parent_not_found(table: Table, parent: str) -> Response:
    what = table.parent.table.rstrip("s") if table.parent else "record"
    return _error(404, "not_found", f"The {what} {parent!r} could not be found.")


def _error(status: int, reason: str, message: str) -> Response:
    return Response(status, pages.render_error(reason, message))
