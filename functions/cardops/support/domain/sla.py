"""Business-day SLA timers of a support case (seed 002: 苦情).

Every business complaint is acknowledged within 5 business days of its submission and resolved within
15; a complaint from a public body is reported to the card program within 1 business day. Business
days are bank business days from the calendar module (weekends, Japanese public holidays including
振替休日 and 国民の休日, and the bank closures of Dec 31 – Jan 3), never a typed list.

Counting: the day of submission is day 0 and each following bank business day counts one, so a
complaint filed on a Saturday is due, at +1, on the Monday after it. A due date ends at the end of
that Tokyo day. Each timer has a reminder at ``reminder_hour`` (Asia/Tokyo) on the business day
before its due date (never before the case was opened), and an escalation when the due moment
passes with the timer still open.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel.calendar import (
    TOKYO,
    end_of_tokyo_day,
    is_bank_business_day,
    next_bank_business_day,
    previous_bank_business_day,
    tokyo_date,
)


class Timer(StrEnum):
    ACK = "ack"  # 認識: acknowledged
    RESOLVE = "resolve"  # 解決: resolved
    REPORT = "report"  # public body: reported to the card program


class FiringKind(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"


class SlaPolicy(BaseModel):
    """The configurable parts; the defaults are the seed's."""

    model_config = ConfigDict(frozen=True)

    ack_business_days: int = Field(default=5, ge=1, le=60)
    resolve_business_days: int = Field(default=15, ge=1, le=120)
    report_business_days: int = Field(default=1, ge=1, le=10)
    reminder_hour: int = Field(default=9, ge=0, le=23)

    def business_days(self, timer: Timer) -> int:
        return {
            Timer.ACK: self.ack_business_days,
            Timer.RESOLVE: self.resolve_business_days,
            Timer.REPORT: self.report_business_days,
        }[timer]


DEFAULT_POLICY = SlaPolicy()


def add_business_days(start: date, days: int) -> date:
    """The ``days``-th bank business day after ``start`` (``start`` itself is day 0, whatever it is)."""
    if days < 0:
        raise ValueError("business days are counted forward")
    day = start
    for _ in range(days):
        day = next_bank_business_day(day)
    return day


def business_days_between(start: date, end: date) -> int:
    """Bank business days in ``(start, end]``: how many business days old a case opened on ``start`` is."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_bank_business_day(day):
            count += 1
    return count


def due_at(opened_at: datetime, timer: Timer, policy: SlaPolicy = DEFAULT_POLICY) -> datetime:
    """The end (Asia/Tokyo) of the due business day of ``timer`` for a case opened at ``opened_at``."""
    return end_of_tokyo_day(add_business_days(tokyo_date(opened_at), policy.business_days(timer)))


def reminder_at(opened_at: datetime, due: datetime, policy: SlaPolicy = DEFAULT_POLICY) -> datetime:
    """``reminder_hour`` on the business day before the due date, but not before the case opened."""
    day = previous_bank_business_day(tokyo_date(due))
    moment = datetime.combine(day, time(policy.reminder_hour), tzinfo=TOKYO)
    return max(moment.astimezone(due.tzinfo), opened_at)


class Firing(BaseModel):
    """One timer event of a case: a reminder or an escalation, due ``at``."""

    model_config = ConfigDict(frozen=True)

    timer: Timer
    kind: FiringKind
    at: datetime

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.timer.value}"


def is_first_business_day(day: date) -> bool:
    """``day`` is the month's first bank business day (when the monthly report is due)."""
    if not is_bank_business_day(day):
        return False
    earlier = day.replace(day=1)
    while earlier < day:
        if is_bank_business_day(earlier):
            return False
        earlier += timedelta(days=1)
    return True
