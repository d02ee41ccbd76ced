"""Reading days through a worded time filter: the request asks wide enough, the filter keeps
exactly the items of the days (an item at midnight in exactly one day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics_assets.api.window import DayRange, iso_utc, record_filter
from analytics_assets.schema import EVENTS, REPLIES, Window

DAY = DayRange(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))


def test_an_exclusive_start_asks_a_second_earlier_an_inclusive_one_at_midnight() -> None:
    assert DAY.request_params(EVENTS.window) == {  # "after" / "before"
        "start_at": "2026-11-19T23:59:59Z",
        "end_at": "2026-11-21T00:00:00Z",
    }
    assert DAY.request_params(REPLIES.window) == {  # "on or after" / "on or before"
        "start_at": "2026-11-20T00:00:00Z",
        "end_at": "2026-11-21T00:00:00Z",
    }


@pytest.mark.parametrize(
    ("sent_at", "kept"),
    [
        ("2026-11-20T00:00:00.000Z", True),  # midnight opens the day
        ("2026-11-20T00:00:00Z", True),
        ("2026-11-20T01:00:00+01:00", True),  # the same instant, written with an offset
        ("2026-11-19T23:59:59.999Z", False),  # the day before
        ("2026-11-20T23:59:59.999Z", True),
        ("2026-11-21T00:00:00.000Z", False),  # midnight closing the day belongs to the next
        ("2026-11-21T00:59:59+01:00", True),  # 2026-11-20T23:59:59Z: still the 20th
        ("2026-11-21T01:00:00+01:00", False),  # midnight UTC, written with an offset
        ("2026-11-20T12:00:00", True),  # no offset: UTC
        (None, True),  # never sent: kept, it cannot be placed in another day either
    ],
)
def test_the_filter_keeps_exactly_the_range(sent_at: str | None, kept: bool) -> None:
    keep = record_filter(REPLIES.window, DAY)
    assert keep({"id": "r", "sent_at": sent_at}) is kept


def test_each_midnight_lands_in_exactly_one_of_consecutive_days() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    days = [DayRange(start + timedelta(days=i), start + timedelta(days=i + 1)) for i in range(7)]
    window = Window("created_at", start_inclusive=False, end_inclusive=False)
    for i in range(8):
        midnight = {"created_at": iso_utc(start + timedelta(days=i))}
        homes = [day for day in days if record_filter(window, day)(midnight)]
        assert homes == ([days[i]] if i < 7 else [])  # the 8th is the day after the range


def test_a_range_must_be_aware_and_not_empty() -> None:
    with pytest.raises(ValueError, match="aware"):
        DayRange(datetime(2026, 11, 20), datetime(2026, 11, 21))
    with pytest.raises(ValueError, match="empty"):
        DayRange(DAY.end, DAY.start)


def test_describe_names_one_day_or_a_range() -> None:
    assert DAY.describe() == "2026-11-20"
    week = DayRange(DAY.start, DAY.start + timedelta(days=7))
    assert week.describe() == "2026-11-20..2026-11-26"
