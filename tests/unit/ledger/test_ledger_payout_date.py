"""Payout dates (SPEC §6): the 15th of the next month, moved to the next bank business day.

The expected dates are derived from the ``holidays`` library itself (public + bank categories),
never from a typed list, so a change in the holiday law is picked up by both sides.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from cardops.ledger.domain.payouts import payout_date, payout_date_at

MONTHS = [(year, month) for year in range(2026, 2031) for month in range(1, 13)]


def _closed(day: date) -> bool:
    bank = holidays.country_holidays("JP", years=day.year, categories=("public", "bank"))
    return day.weekday() >= 5 or day in bank


def _expected(year: int, month: int) -> date:
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    day = date(next_year, next_month, 15)
    while _closed(day):
        day += timedelta(days=1)
    return day


def _last_day(year: int, month: int) -> date:
    first_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first_next - timedelta(days=1)


@pytest.mark.parametrize(("year", "month"), MONTHS)
def test_every_day_of_each_month_2026_2030_pays_on_the_expected_day(year: int, month: int) -> None:
    expected = _expected(year, month)
    assert not _closed(expected)
    day = date(year, month, 1)
    while day.month == month:
        assert payout_date(day) == expected, day
        day += timedelta(days=1)


def test_december_2026_is_paid_on_2027_01_15() -> None:
    assert payout_date(date(2026, 12, 31)) == date(2027, 1, 15)
    assert payout_date(date(2026, 12, 1)) == date(2027, 1, 15)


def test_months_whose_15th_is_closed_are_moved_and_exist_in_the_range() -> None:
    moved = [(y, m) for (y, m) in MONTHS if _expected(y, m).day != 15]
    weekend = [(y, m) for (y, m) in moved if date(*_next(y, m), 15).weekday() >= 5]
    # 2028-07-15 is a Saturday and Monday the 17th is Marine Day: paid on Tuesday the 18th.
    assert payout_date(date(2028, 6, 30)) == date(2028, 7, 18)
    # 2029-09-15 is a Saturday and Monday the 17th is Respect for the Aged Day.
    assert payout_date(date(2029, 8, 1)) == date(2029, 9, 18)
    assert weekend
    assert len(moved) >= len(weekend)
    for y, m in moved:
        fifteenth = date(*_next(y, m), 15)
        assert _closed(fifteenth)
        assert payout_date(date(y, m, 1)) > fifteenth


def _next(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def test_month_end_is_the_end_of_the_tokyo_day() -> None:
    # 2026-01-31 23:30 JST is 14:30 UTC: still a January request.
    late_january = datetime(2026, 1, 31, 14, 30, tzinfo=UTC)
    assert payout_date_at(late_january) == payout_date(date(2026, 1, 31))
    # 2026-01-31 15:30 UTC is already 2026-02-01 00:30 JST: a February request.
    early_february = datetime(2026, 1, 31, 15, 30, tzinfo=UTC)
    assert payout_date_at(early_february) == payout_date(date(2026, 2, 1))
    assert payout_date_at(late_january) != payout_date_at(early_february)


def test_last_day_of_month_is_still_that_month() -> None:
    for year, month in MONTHS:
        assert payout_date(_last_day(year, month)) == _expected(year, month)
