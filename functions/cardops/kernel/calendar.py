"""Business dates in Asia/Tokyo and the Japanese holiday calendar (SPEC §6, §7, §9).

Holidays come from the maintained `holidays` library: its ``public`` category for business days,
and ``public`` + ``bank`` (which adds Dec 31 – Jan 3) for bank business days. Never a typed list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import holidays

TOKYO = ZoneInfo("Asia/Tokyo")


@lru_cache(maxsize=64)
def _public(year: int) -> holidays.HolidayBase:
    import holidays  # imported on first use: it costs ~0.3 s, which webhook cold starts do not need

    return holidays.country_holidays("JP", years=year, categories=("public",))


@lru_cache(maxsize=64)
def _bank(year: int) -> holidays.HolidayBase:
    import holidays

    return holidays.country_holidays("JP", years=year, categories=("public", "bank"))


def tokyo_date(moment: datetime) -> date:
    """The Asia/Tokyo calendar date of an aware timestamp."""
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    return moment.astimezone(TOKYO).date()


def end_of_tokyo_day(day: date) -> datetime:
    """The last instant of ``day`` in Asia/Tokyo (23:59:59.999999 JST), as an aware UTC timestamp."""
    return datetime.combine(day, time.max, tzinfo=TOKYO).astimezone(UTC)


def holiday_name(day: date) -> str | None:
    """The Japanese public holiday on ``day`` (including 振替休日 and 国民の休日), if any."""
    name = _public(day.year).get(day)
    return str(name) if name else None


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def is_business_day(day: date) -> bool:
    """Mon–Fri and not a Japanese public holiday (the feed-sync schedule's days)."""
    return not is_weekend(day) and holiday_name(day) is None


def is_bank_business_day(day: date) -> bool:
    """A business day on which banks also open (not Dec 31 – Jan 3)."""
    return not is_weekend(day) and day not in _bank(day.year)


def next_business_day(after: date) -> date:
    """The first business day strictly after ``after``."""
    day = after + timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def next_bank_business_day(after: date) -> date:
    """The first bank business day strictly after ``after``."""
    return on_or_after_bank_business_day(after + timedelta(days=1))


def previous_bank_business_day(before: date) -> date:
    """The last bank business day strictly before ``before``."""
    day = before - timedelta(days=1)
    while not is_bank_business_day(day):
        day -= timedelta(days=1)
    return day


def on_or_after_bank_business_day(day: date) -> date:
    """``day`` itself when banks open, else the next bank business day."""
    while not is_bank_business_day(day):
        day += timedelta(days=1)
    return day
