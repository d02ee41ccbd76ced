"""Pagination for the API's ``next_page`` envelope.

Why not a stock dlt paginator: the seed asks for ``{"type": "cursor", "cursor_param":
"next_page"}``, but dlt's cursor paginator reads ``cursors.next`` and so stops after page 1; its
``json_link`` paginator follows URLs but drops the first request's query parameters (so a filter
such as ``updated_after`` would be lost on page 2) and cannot take a token. PersistIq sends an
absolute URL in ``next_page``; the seed's wording describes a token sent back as ``next_page``.
This paginator accepts both. It ends on ``has_more: false`` or a null or missing ``next_page``,
and refuses what would otherwise pass as a short but "successful" read: an error envelope, an
envelope without the records key, a repeated ``next_page``, endless empty pages, or an empty page
claiming more that is followed by records (the empty page hid some). Trailing empty pages pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from dlt.sources.helpers.rest_client.paginators import BaseReferencePaginator
from requests import Request, Response

from analytics_assets.api.errors import ApiResponseError, PaginationLoopError

PageCallback = Callable[[int], None]
"""Called once per page with the number of records on it."""

MAX_EMPTY_PAGES = 5
"""Consecutive empty pages that still claim ``has_more`` before the read is called a loop."""


class NextPagePaginator(BaseReferencePaginator):
    """Follows ``next_page`` as an absolute URL or as a token for the ``next_page`` parameter.

    Args:
        records_key: Envelope key holding the records (the resource's data selector); its absence
            is an error, not an empty page.
        cursor_param: Query parameter that carries a token ``next_page`` back to the API.
        cursor_path: Key of the envelope that holds the next page reference.
        has_more_path: Key of the envelope's boolean "more pages" flag; it may be absent.
        on_page: Optional progress callback, called with each page's record count.
    """

    def __init__(
        self,
        records_key: str,
        cursor_param: str = "next_page",
        cursor_path: str = "next_page",
        has_more_path: str = "has_more",
        on_page: PageCallback | None = None,
    ) -> None:
        super().__init__()
        self.records_key = records_key
        self.cursor_param = cursor_param
        self.cursor_path = cursor_path
        self.has_more_path = has_more_path
        self.on_page = on_page
        self._first_params: dict[str, Any] = {}
        self._seen: set[str] = set()
        self._empty_pages = 0
        self._empty_page_url: str | None = None

    def init_request(self, request: Request) -> None:
        # Remember the first request's filters: every later page must carry them too.
        self._first_params = dict(request.params or {})
        self._seen = set()
        self._empty_pages = 0
        self._empty_page_url = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        envelope = self._envelope(response)
        if self.on_page is not None:
            self.on_page(len(data or ()))
        if data and self._empty_page_url:
            # An empty page that claimed more, then records: the empty one hid a page of them.
            raise ApiResponseError(
                f"GET {self._empty_page_url} answered an empty page with has_more true, and a "
                "later page had records: that page's records are missing; run the sync again"
            )
        reference = envelope.get(self.cursor_path)
        if not reference or envelope.get(self.has_more_path, True) is False:
            self._next_reference = None
            return
        if not data:
            self._empty_pages += 1
            self._empty_page_url = self._empty_page_url or response.url
        if self._empty_pages >= MAX_EMPTY_PAGES:
            raise PaginationLoopError(
                f"GET {response.url} was the {MAX_EMPTY_PAGES}th empty page in a row that still "
                "claims has_more; stopping instead of paging for ever"
            )
        reference = str(reference)
        if reference in self._seen:
            raise PaginationLoopError(
                f"GET {response.url} sent next_page {reference!r} a second time; stopping "
                "instead of looping"
            )
        self._seen.add(reference)
        self._next_reference = reference

    def _envelope(self, response: Response) -> dict[str, Any]:
        envelope = response.json()
        if not isinstance(envelope, dict):
            raise ApiResponseError(f"GET {response.url} answered with JSON that is not an object")
        if envelope.get("status") == "error":
            raise ApiResponseError(
                f"GET {response.url} answered {response.status_code} with status 'error': "
                f"{envelope.get('errors') or envelope.get('error')}"
            )
        if self.records_key not in envelope:
            raise ApiResponseError(
                f"GET {response.url} answered without the {self.records_key!r} key "
                f"(keys: {sorted(envelope)})"
            )
        return envelope

    def update_request(self, request: Request) -> None:
        reference = self._next_reference or ""
        split = urlsplit(reference)
        if split.scheme and split.netloc:
            # An absolute URL: its own query wins, the first request's filters fill the rest.
            own = dict(parse_qsl(split.query, keep_blank_values=True))
            request.url = urlunsplit(split._replace(query=""))
            request.params = {**self._first_params, **own}
        else:
            request.params = {**self._first_params, self.cursor_param: reference}

    def __str__(self) -> str:
        return f"{super().__str__()}: next_page of {self.records_key}"
