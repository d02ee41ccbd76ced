"""Pagination for the API's ``next_page`` envelope.

Why not a stock dlt paginator: the seed asks for ``{"type": "cursor", "cursor_param":
"next_page"}``, but dlt's cursor paginator reads ``cursors.next`` and so stops after page 1; its
``json_link`` paginator follows URLs but drops the first request's query parameters (so a filter
such as ``updated_after`` would be lost on page 2) and cannot take a token. PersistIq sends an
absolute URL in ``next_page``; the seed's wording describes a token sent back as ``next_page``.
This paginator accepts both, and it ends on ``has_more: false``, a null or missing ``next_page``,
an empty page, or a repeated ``next_page`` (which would otherwise loop for ever).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from dlt.sources.helpers.rest_client.paginators import BaseReferencePaginator
from requests import Request, Response

PageCallback = Callable[[int], None]
"""Called once per page with the number of records on it."""


class PaginationLoopError(RuntimeError):
    """The API sent the same ``next_page`` twice: following it would never end."""


class NextPagePaginator(BaseReferencePaginator):
    """Follows ``next_page`` as an absolute URL or as a token for the ``next_page`` parameter.

    Args:
        cursor_param: Query parameter that carries a token ``next_page`` back to the API.
        cursor_path: Key of the envelope that holds the next page reference.
        has_more_path: Key of the envelope's boolean "more pages" flag; it may be absent.
        on_page: Optional progress callback, called with each page's record count.
    """

    def __init__(
        self,
        cursor_param: str = "next_page",
        cursor_path: str = "next_page",
        has_more_path: str = "has_more",
        on_page: PageCallback | None = None,
    ) -> None:
        super().__init__()
        self.cursor_param = cursor_param
        self.cursor_path = cursor_path
        self.has_more_path = has_more_path
        self.on_page = on_page
        self._first_params: dict[str, Any] = {}
        self._seen: set[str] = set()

    def init_request(self, request: Request) -> None:
        # Remember the first request's filters: every later page must carry them too.
        self._first_params = dict(request.params or {})
        self._seen = set()

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        if self.on_page is not None:
            self.on_page(len(data or ()))
        envelope = response.json()
        reference = envelope.get(self.cursor_path) if isinstance(envelope, dict) else None
        has_more = envelope.get(self.has_more_path, True) if isinstance(envelope, dict) else False
        if not reference or has_more is False or not data:
            self._next_reference = None
            return
        reference = str(reference)
        if reference in self._seen:
            raise PaginationLoopError(
                f"the API sent next_page {reference!r} twice; stopping instead of looping"
            )
        self._seen.add(reference)
        self._next_reference = reference

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
        return f"{super().__str__()}: cursor_path: {self.cursor_path}"
