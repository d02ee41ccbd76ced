"""The sandbox's activity window: when replies were sent and events happened.

Activity spreads over ``days`` UTC days ending with the day before ``end`` (a date, by default
today in UTC). Besides random instants, ``Activity.moment`` hands out, evenly through a table,
edge instants that catch off-by-one filters: midnight of ``end`` itself (just after the range:
it belongs to no day of it) and, every ``EDGE_EVERY_DAYS`` day from the first, an item exactly
at midnight and one at ``23:59:59.999`` (so the first midnight of any range of days and the
midnight after it both carry an item).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

DEFAULT_DAYS = 30
EDGE_EVERY_DAYS = 1  # an item at midnight (and one at 23:59:59.999) every this many days
LAST_MILLISECOND = time(23, 59, 59, 999_000)


def today_utc() -> date:
    """Today's date in UTC: the default ``end`` of the activity window."""
    return datetime.now(UTC).date()


def midnight(day: date) -> datetime:
    """The UTC midnight that starts ``day``."""
    return datetime.combine(day, time(), tzinfo=UTC)


def iso_ms(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, e.g. ``2026-11-20T13:05:07.123Z``."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def edge_moments(first: date, end: date) -> list[datetime]:
    """The edge instants of the days [first, end), in the order ``Activity`` hands them out:
    the first midnight, midnight of ``end``, the last millisecond of the last day, then the
    other days' midnights and last milliseconds."""
    days = (end - first).days

    def last_ms(offset: int) -> datetime:
        return datetime.combine(first + timedelta(days=offset), LAST_MILLISECOND, tzinfo=UTC)

    edges = [midnight(first), midnight(end), last_ms(days - 1)]
    for offset in range(EDGE_EVERY_DAYS, days, EDGE_EVERY_DAYS):
        edges += [midnight(first + timedelta(days=offset)), last_ms(offset - EDGE_EVERY_DAYS)]
    return edges


class Activity:
    """Timestamps of one table: random instants in the range, with its edge instants mixed in.

    Deterministic: the n-th call of ``moment`` depends only on n, the range and the rng.

    Args:
        end: The day after the last day of activity.
        days: Number of days of activity (at least 1).
        rows: Rows the table will have, to spread the edge instants through all of them.
    """

    def __init__(self, end: date, days: int = DEFAULT_DAYS, rows: int = 0) -> None:
        if days < 1:
            raise ValueError(f"activity needs at least 1 day, got {days}")
        self.first, self.end = end - timedelta(days=days), end
        self.edges = edge_moments(self.first, self.end)
        # Each edge about twice per table (a nullable timestamp skips some calls).
        self._every = max(1, rows // (2 * len(self.edges)))
        self._span_ms = days * 86_400_000
        self._calls = 0

    def moment(self, rng: random.Random) -> datetime:
        """The next instant: every so often the next edge instant, otherwise a random one."""
        calls, self._calls = self._calls, self._calls + 1
        if calls % self._every == 0:
            return self.edges[(calls // self._every) % len(self.edges)]
        return midnight(self.first) + timedelta(milliseconds=rng.randrange(self._span_ms))
