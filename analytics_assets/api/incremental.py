"""Incremental reads of leads with ``updated_after``.

Leads carry no update timestamp in their records, so dlt's record-cursor ``incremental`` cannot
apply. Instead the start of each leads sync is kept in dlt's resource state; dlt commits that
state with the load package into the destination, so it moves only when the load succeeds and it
survives a lost working directory. The next sync asks for leads ``updated_after`` that start
minus an overlap (for clock skew and writes in flight); merge on ``id`` absorbs the re-reads.

A read that is not known complete (records served twice, records set aside as unloadable) puts
the previous start back before the extract ends, so the next sync reads the same window again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
from requests import Request

from analytics_assets.api.paginator import NextPagePaginator

STATE_KEY = "last_sync_started_at"
FILTER_PARAM = "updated_after"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class UpdatedAfterPaginator(NextPagePaginator):
    """``NextPagePaginator`` that adds ``updated_after`` to the first request of a sync.

    Args:
        overlap: How far before the last sync's start to read again.
        full_refresh: Read everything this time (the start is still recorded).
        clock: Current UTC time, replaceable in tests.
        **kwargs: ``NextPagePaginator``'s arguments.
    """

    def __init__(
        self,
        overlap: timedelta,
        full_refresh: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.overlap = overlap
        self.full_refresh = full_refresh
        self.clock = clock
        self.updated_after: str | None = None
        self._state: dict[str, Any] = {}
        self._previous: str | None = None

    def init_request(self, request: Request) -> None:
        state = dlt.current.resource_state()
        previous = state.get(STATE_KEY)
        if previous and not self.full_refresh:
            since = datetime.fromisoformat(previous.replace("Z", "+00:00")) - self.overlap
            self.updated_after = _iso(since)
            request.params = {**(request.params or {}), FILTER_PARAM: self.updated_after}
        self._state, self._previous = state, previous
        state[STATE_KEY] = _iso(self.clock())  # committed by dlt only with a completed load
        super().init_request(request)

    def read_incomplete(self, reason: str) -> None:
        """Put the previous cursor back: the next sync reads this window again."""
        if self._previous is None:
            self._state.pop(STATE_KEY, None)
        else:
            self._state[STATE_KEY] = self._previous
        super().read_incomplete(f"{reason}; the cursor stays at {self._previous or 'the start'}")
