"""Pagination for the API's ``next_page`` envelope, and the judge of whether a read is complete.

Why not a stock dlt paginator: the seed asks for ``{"type": "cursor", "cursor_param":
"next_page"}``, but dlt's cursor paginator reads ``cursors.next`` and so stops after page 1; its
``json_link`` paginator follows URLs but drops the first request's query parameters (so a filter
such as ``updated_after`` would be lost on page 2) and cannot take a token. PersistIq sends an
absolute URL in ``next_page``; the seed's wording describes a token sent back as ``next_page``.
This paginator accepts both, and a relative URL. It ends on ``has_more: false``, or on a null
or missing ``next_page`` when ``has_more`` is absent.

It refuses what would otherwise pass as a short but "successful" read: an error envelope, an
envelope without the records key or whose records are not a list (dlt would take an object as one
record, and null as an empty page), ``has_more: true`` without a ``next_page``, a repeated
``next_page``, a ``next_page`` on another endpoint (another campaign's leads), endless empty pages,
or an empty page claiming more that is followed by records (the empty page hid some). Trailing empty
pages pass. A read that ends but served some record twice (a page repeated, so another page's
records were never served) is *incomplete*: ``read_incomplete`` is called, which holds back an
incremental cursor (``incremental.py``).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
from dlt.sources.helpers.rest_client.paginators import BaseReferencePaginator
from requests import Request, Response

from analytics_assets.api.errors import (
    ApiResponseError,
    PaginationLoopError,
    envelope_error_text,
)
from analytics_assets.api.redact import NO_SECRETS, Redactor

PageCallback = Callable[[int], None]
"""Called once per page with the number of records on it."""
IncompleteCallback = Callable[[str], None]
"""Called when a read ends without being known complete, with the reason."""
PageScreen = Callable[[list[Any], Response, int], str | None]
"""Sets aside a page's records that cannot load (in place); returns why the read is incomplete."""

JSON_KINDS = {type(None): "null", dict: "an object", str: "a string", int: "a number"}
MAX_EMPTY_PAGES = 5
"""Consecutive empty pages that still claim ``has_more`` before the read is called a loop."""
MAX_SAME_PAGES = 5
"""Consecutive pages with the very same records before the read is called a loop (an endpoint
that ignores ``page`` but still links to the next one would otherwise be read for ever)."""


class NextPagePaginator(BaseReferencePaginator):
    """Follows ``next_page`` as a URL (absolute or relative) or as a token for ``next_page``.

    Args:
        records_key: Envelope key holding the records (the resource's data selector); its absence
            is an error, not an empty page.
        cursor_param: Query parameter that carries a token ``next_page`` back to the API.
        cursor_path: Key of the envelope that holds the next page reference.
        has_more_path: Key of the envelope's boolean "more pages" flag; it may be absent.
        primary_key: The records' id field, watched for records served twice in one read.
        on_page: Optional progress callback, called with each page's record count.
        on_incomplete: Optional callback for a read that ended but is not known complete.
        redact: Masks the API key in what the paginator reports.
        screen: Optional check of each page (``arrow_pages.page_screen``): it sets aside, in
            place, the records that cannot load, and says why the read is then incomplete.
    """

    def __init__(
        self,
        records_key: str,
        cursor_param: str = "next_page",
        cursor_path: str = "next_page",
        has_more_path: str = "has_more",
        primary_key: str = "id",
        on_page: PageCallback | None = None,
        on_incomplete: IncompleteCallback | None = None,
        redact: Redactor = NO_SECRETS,
        screen: PageScreen | None = None,
    ) -> None:
        super().__init__()
        self.records_key = records_key
        self.cursor_param = cursor_param
        self.cursor_path = cursor_path
        self.has_more_path = has_more_path
        self.primary_key = primary_key
        self.on_page = on_page
        self.on_incomplete = on_incomplete
        self.redact = redact
        self.screen = screen
        self.incomplete: list[str] = []
        self._first_params: dict[str, Any] = {}
        self._reset()

    def _reset(self) -> None:
        self._seen: set[str] = set()
        self._empty_pages = 0
        self._empty_page_url: str | None = None
        self._pages = 0
        self._id_hashes = array("q")  # 8 bytes per record: flat memory, unlike a set of ids
        self._page_ends = array("q")  # where each page's hashes end in ``_id_hashes``
        self._last_page_ids: frozenset[int] = frozenset()
        self._same_pages = 0

    def init_request(self, request: Request) -> None:
        # Remember the first request's filters: every later page must carry them too.
        self._first_params = dict(request.params or {})
        self.incomplete = []
        self._reset()

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        envelope = self._envelope(response)
        self._pages += 1
        url = self.redact(response.url)
        self._check_redirect(response)
        if self.screen is not None and data:
            reason = self.screen(data, response, self._pages)
            if reason:
                self.read_incomplete(reason)
        self._note_ids(data or (), url)
        if self.on_page is not None:
            self.on_page(len(data or ()))
        if data and self._empty_page_url:
            # An empty page that claimed more, then records: the empty one hid a page of them.
            raise ApiResponseError(
                f"GET {self._empty_page_url} answered an empty page with has_more true, and a "
                "later page had records: that page's records are missing; run the sync again"
            )
        reference = envelope.get(self.cursor_path)
        has_more = more_flag(envelope.get(self.has_more_path), self.has_more_path, url)
        if has_more is False:
            self._next_reference = None
            self._check_ids(url)
            return
        if reference is not None and not isinstance(reference, str):
            raise ApiResponseError(
                f"GET {url} answered next_page {self.redact(repr(reference))}, neither a URL nor "
                "a token, so the rest of the read cannot be found; nothing was loaded. Report it "
                "to the API's provider"
            )
        if not reference:
            if has_more:
                raise ApiResponseError(
                    f"GET {url} answered has_more true but next_page {reference!r}: the API says "
                    "there is more and gives no way to read it, so the read cannot be complete; "
                    "nothing was loaded. Run the sync again later; if it persists, report it to "
                    "the API's provider"
                )
            self._next_reference = None
            self._check_ids(url)
            return
        if not data:
            self._empty_pages += 1
            self._empty_page_url = self._empty_page_url or url
        if self._empty_pages >= MAX_EMPTY_PAGES:
            raise PaginationLoopError(
                f"GET {url} was the {MAX_EMPTY_PAGES}th empty page in a row that still "
                "claims has_more; stopping instead of paging for ever"
            )
        reference = _absolute(str(reference), response.url)
        self._refuse_another_endpoint(reference, response.url, url)
        if reference in self._seen:
            raise PaginationLoopError(
                f"GET {url} sent next_page {self.redact(reference)!r} a second time; stopping "
                "instead of looping"
            )
        self._seen.add(reference)
        self._next_reference = reference

    def _check_redirect(self, response: Response) -> None:
        """A redirect to another page or endpoint (a proxy, a cache) served what was not
        asked for: the page asked for may never be served, so the read is not complete. One
        to the same page in another form (``page=1`` spelled out, a parameter added) is fine."""
        if not response.history:
            return
        asked = response.history[0].request.url or ""
        if not _same_page(asked, response.url):
            self.read_incomplete(
                f"GET {self.redact(asked)} was redirected to {self.redact(response.url)}, "
                "another page than the one asked for, so that page may never have been read "
                "(if the API moved, point ANALYTICS_API_BASE_URL at its new address)"
            )

    def _refuse_another_endpoint(self, reference: str, page_url: str, url: str) -> None:
        """A next_page URL must stay on the page's endpoint: one on another path (another
        campaign's leads, another resource) would load its records as this read's."""
        split = urlsplit(reference)
        if not (split.scheme and split.netloc):
            return  # a token, sent back to this endpoint
        here, there = urlsplit(page_url).path.rstrip("/"), split.path.rstrip("/")
        if here != there:
            raise ApiResponseError(
                f"GET {url} answered next_page {self.redact(reference)!r}, which points at "
                f"another endpoint ({self.redact(there)}, not {self.redact(here)}): following it "
                "would load other records as these; nothing was loaded. Report it to the API's "
                "provider"
            )

    def read_incomplete(self, reason: str) -> None:
        """Record that this read is not known complete (and tell ``on_incomplete``)."""
        self.incomplete.append(reason)
        if self.on_incomplete is not None:
            self.on_incomplete(reason)

    def _note_ids(self, records: Any, url: str) -> None:
        key = self.primary_key
        page_ids = []
        for record in records:
            if isinstance(record, dict) and record.get(key) is not None:
                page_ids.append(hash(str(record[key])))
        self._id_hashes.extend(page_ids)
        self._page_ends.append(len(self._id_hashes))
        ids = frozenset(page_ids)
        self._same_pages = self._same_pages + 1 if ids and ids == self._last_page_ids else 0
        self._last_page_ids = ids
        if self._same_pages >= MAX_SAME_PAGES:
            raise PaginationLoopError(
                f"GET {url} served the same records as the {MAX_SAME_PAGES} pages before it: the "
                "endpoint seems to ignore the page it is asked for; stopping instead of paging "
                "for ever. Report it to the API's provider"
            )

    def _check_ids(self, url: str) -> None:
        """At the end of the read: were any records served twice?"""
        if not self._id_hashes:
            return
        hashes = pa.Array.from_buffers(
            pa.int64(), len(self._id_hashes), [None, pa.py_buffer(self._id_hashes)]
        )
        repeated = repeated_values(hashes)
        if not len(repeated):
            return
        where = pc.indices_nonzero(pc.is_in(hashes, repeated)).to_pylist()
        pages = sorted({bisect_right(self._page_ends, index) + 1 for index in where})
        self.read_incomplete(
            f"{len(repeated)} {self.records_key} record(s) were served more than once in one "
            f"read (pages {', '.join(map(str, pages))} of the read ending at GET {url}): the "
            "API repeated records, so others may never have been served"
        )

    def _envelope(self, response: Response) -> dict[str, Any]:
        envelope = response.json()
        url = self.redact(response.url)
        if not isinstance(envelope, dict):
            raise ApiResponseError(f"GET {url} answered with JSON that is not an object")
        if envelope.get("status") == "error":
            said = self.redact(envelope_error_text(envelope)) or "no error detail given"
            raise ApiResponseError(
                f"GET {url} answered {response.status_code} with status 'error' ({said}); "
                "nothing was loaded. Run the sync again; if it persists, report it to the "
                "API's provider"
            )
        if self.records_key not in envelope:
            raise ApiResponseError(
                f"GET {url} answered without the {self.records_key!r} key "
                f"(keys: {self.redact(str(sorted(envelope)))})"
            )
        records = envelope[self.records_key]
        if not isinstance(records, list):  # dlt would take it as one record: the page is lost
            kind = JSON_KINDS.get(type(records), type(records).__name__)
            raise ApiResponseError(
                f"GET {url} answered {self.records_key!r} as {kind}, not a list of records, "
                "so the page cannot be read; nothing was loaded. Report it to the API's provider"
            )
        return envelope

    def update_request(self, request: Request) -> None:
        reference = self._next_reference or ""
        split = urlsplit(reference)
        if split.scheme and split.netloc:
            # A URL: its own query wins, the first request's filters fill the rest. A parameter
            # carrying the key is dropped: the key goes in its header, and a URL reaches logs.
            own = {
                name: value
                for name, value in parse_qsl(split.query, keep_blank_values=True)
                if self.redact(value) == value
            }
            request.url = urlunsplit(split._replace(query=""))
            request.params = {**self._first_params, **own}
        else:
            request.params = {**self._first_params, self.cursor_param: reference}

    def __str__(self) -> str:
        return f"{super().__str__()}: next_page of {self.records_key}"


def more_flag(value: Any, name: str, url: str) -> bool | None:
    """``has_more`` as a boolean; None when absent. ``"true"``/``1`` count; other values fail."""
    if value is None or isinstance(value, bool):
        return value
    if value in (1, "1", "true", "True"):
        return True
    if value in (0, "0", "false", "False"):
        return False
    raise ApiResponseError(
        f"GET {url} answered {name} {value!r}, not a boolean, so the read cannot be known "
        "complete; nothing was loaded. Report it to the API's provider"
    )


def _same_page(asked: str, served: str) -> bool:
    """Whether ``served`` is the page ``asked`` for: the same path (but a trailing slash),
    every parameter asked for with its value, ``page`` 1 when absent; extra ones are fine."""
    asked_split, served_split = urlsplit(asked), urlsplit(served)
    if asked_split.path.rstrip("/") != served_split.path.rstrip("/"):
        return False
    asked_query = _page_params(asked_split.query)
    served_query = _page_params(served_split.query)
    return all(served_query.get(key) == value for key, value in asked_query.items())


def _page_params(query: str) -> dict[str, str]:
    params = dict(parse_qsl(query, keep_blank_values=True))
    page = params.get("page", "1")
    params["page"] = str(int(page)) if page.isdigit() else page
    return params


def _absolute(reference: str, page_url: str) -> str:
    """A relative URL (``/v1/leads?page=2``, ``?page=2``) made absolute; tokens unchanged."""
    if reference.startswith(("/", "?", "./", "../")):
        return urljoin(page_url, reference)
    return reference


HASH_RANGES = 16
"""``repeated_values`` looks at one range of hash values at a time: Arrow's ``unique`` over
1M values at once held 60 MB, a sixteenth of them about 8 MB."""
ONE_PASS_MAX = 65_536
"""Up to this many values (half a megabyte) one pass: most reads, e.g. each campaign's, are
small, and sixteen passes cost them about 80 Arrow calls."""


def repeated_values(values: pa.Int64Array, ranges: int | None = None) -> pa.Int64Array:
    """The values that occur more than once in ``values``, each once, looking at ``ranges``
    ranges of values one after another (by default one if they are few, else ``HASH_RANGES``)."""
    if ranges is None:
        ranges = 1 if len(values) <= ONE_PASS_MAX else HASH_RANGES
    found: list[pa.Array] = []
    width = 2**64 // ranges
    for part in range(ranges):
        low = -(2**63) + part * width
        chunk = values
        if ranges > 1:
            in_range = pc.greater_equal(values, low)
            if part < ranges - 1:
                in_range = pc.and_(in_range, pc.less(values, low + width))
            chunk = pc.filter(values, in_range)
        if len(pc.unique(chunk)) < len(chunk):
            counts = pc.value_counts(chunk)
            found.append(pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1)))
    return pa.concat_arrays(found) if found else pa.array([], pa.int64())
