"""Query filters the sandbox honours: ``updated_after`` on leads and each table's time window.

A table's ``schema.Window`` names its parameters and their wording, as the OpenAPI words them:
events' ``start_at``/``end_at`` are "after"/"before" (both exclusive), replies' are "on or
after"/"on or before" (both inclusive). Timestamps are ISO 8601 with ``Z`` or an offset, with
or without fractional seconds (naive ones are taken as UTC). Comparisons are exact, to the
microsecond. A record whose window timestamp is null (or not a timestamp) matches no window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analytics_assets.schema import Table, Window

UPDATED_AFTER = "updated_after"
UPDATED_AFTER_TABLES = frozenset({"leads"})  # resources that honour ``updated_after``


def parse_timestamp(raw: str, name: str) -> datetime:
    """An aware datetime from an ISO 8601 query value; ValueError naming ``name`` otherwise."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        # An unencoded '+01:00' offset arrives as ' 01:00'; accept what the client meant.
        try:
            moment = datetime.fromisoformat(raw.replace(" ", "+"))
        except ValueError:
            raise ValueError(f"{name} must be an ISO 8601 timestamp, got {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_moment(value: Any) -> datetime | None:
    """A record's timestamp value as an aware datetime; None if null or not a timestamp."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Filters:
    """One request's filters; the empty ``Filters()`` is falsy and keeps every record.

    Attributes:
        updated_after: Keep records whose server-side update time is later.
        window: The table's window, when ``start`` or ``end`` is set.
        start: Lower bound of the window column (inclusive per ``window``).
        end: Upper bound of the window column (inclusive per ``window``).
        params: The filter parameters as the client sent them, carried in ``next_page``.
    """

    updated_after: datetime | None = None
    window: Window | None = None
    start: datetime | None = None
    end: datetime | None = None
    params: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.params)

    def keeps(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` passes the window (``updated_after`` is checked by ``apply``)."""
        if self.window is None:
            return True
        moment = record_moment(record.get(self.window.column))
        if moment is None:
            return False
        if self.start is not None and (
            moment < self.start or (moment == self.start and not self.window.start_inclusive)
        ):
            return False
        return self.end is None or not (
            moment > self.end or (moment == self.end and not self.window.end_inclusive)
        )

    def apply(
        self, rows: list[dict[str, Any]], updated_at: list[datetime] | None = None
    ) -> list[dict[str, Any]]:
        """The rows that pass; ``updated_at`` (aligned with ``rows``) for ``updated_after``."""
        if self.updated_after is not None and updated_at is not None:
            cutoff = self.updated_after
            rows = [row for row, stamp in zip(rows, updated_at, strict=True) if stamp > cutoff]
        return [row for row in rows if self.keeps(row)] if self.window else list(rows)


def parse_filters(table: Table, query: Mapping[str, str]) -> Filters:
    """The filters of a request for ``table``; ValueError on a bad timestamp.

    Parameters the table does not take are ignored, as the API ignores them.
    """
    names = [UPDATED_AFTER] if table.name in UPDATED_AFTER_TABLES else []
    window = table.window
    if window is not None:
        names += [window.start_param, window.end_param]
    given = {name: query[name] for name in names if name in query}
    if not given:
        return Filters()
    moments = {name: parse_timestamp(raw, name) for name, raw in given.items()}
    start = moments.get(window.start_param) if window else None
    end = moments.get(window.end_param) if window else None
    return Filters(
        updated_after=moments.get(UPDATED_AFTER),
        window=window if start or end else None,
        start=start,
        end=end,
        params=tuple(given.items()),
    )
