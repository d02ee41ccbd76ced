"""Reading a range of UTC days from an endpoint with a time filter (``schema.Window``).

A record belongs to the UTC day of its window column: the half-open range [midnight, next
midnight). The API's filters are worded differently per endpoint (events: "after"/"before",
replies: "on or after"/"on or before"), so asking for exactly [start, end) would lose an item at
midnight under an exclusive start, and an inclusive end would also return the next day's first
item. The request therefore asks for a window no narrower than the range under the declared
wording (an exclusive start moves one second earlier), and the records are then kept only when
their timestamp falls in [start, end): an item exactly at midnight lands in exactly one day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics_assets.api.records import parse_timestamp
from analytics_assets.schema import Window

EXCLUSIVE_START_MARGIN = timedelta(seconds=1)
"""How much earlier an exclusive start asks: the API's timestamps have at most second
precision in its comparisons, and every earlier item is dropped again here."""


def iso_utc(moment: datetime) -> str:
    """``moment`` as the API's ISO 8601 form, e.g. ``2026-11-20T00:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DayRange:
    """The half-open range [start, end) of UTC days a read covers."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a day range needs aware datetimes (UTC)")
        if self.end <= self.start:
            raise ValueError(f"an empty day range: {self.start} .. {self.end}")

    def request_params(self, window: Window) -> dict[str, str]:
        """The filter parameters that ask for every record of the range, under ``window``'s
        wording (and perhaps a few outside it, dropped by ``keeps``)."""
        start = self.start if window.start_inclusive else self.start - EXCLUSIVE_START_MARGIN
        return {window.start_param: iso_utc(start), window.end_param: iso_utc(self.end)}

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def describe(self) -> str:
        last = (self.end - timedelta(days=1)).date()
        first = self.start.date()
        return str(first) if first == last else f"{first}..{last}"


def record_filter(window: Window, days: DayRange) -> Callable[[Any], bool]:
    """A dlt filter step keeping the records whose window column falls in ``days``.

    Records without a timestamp (a reply never sent) cannot be placed in a day; the API
    returned them for this range, so they are kept rather than lost. Timestamps that do not
    parse never reach this step: they are set aside as rejected records before it.
    """

    def keep(record: Any) -> bool:
        if not isinstance(record, dict):
            return True
        value = record.get(window.column)
        moment = parse_timestamp(value) if isinstance(value, str) else None
        return moment is None or days.contains(moment)

    return keep
