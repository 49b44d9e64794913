"""Business-day SLA timers around Golden Week, the year end and 振替休日 (bank business days)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cardops.kernel.calendar import TOKYO, holiday_name, is_bank_business_day
from cardops.support.domain.cases import CaseDraft, Category, Subject, next_firing, open_case
from cardops.support.domain.sla import (
    Firing,
    FiringKind,
    Timer,
    add_business_days,
    business_days_between,
    due_at,
    reminder_at,
)


def jst(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=TOKYO)


# (opened JST date, +1 report due, +5 ack due, +15 resolve due)
TABLE = [
    # Golden Week 2026: 4/29 Showa Day, 5/3–5/5, 5/6 振替休日 for 5/3 (Sunday)
    ("2026-04-28", "2026-04-30", "2026-05-11", "2026-05-25"),
    ("2026-05-01", "2026-05-07", "2026-05-13", "2026-05-27"),
    ("2026-05-02", "2026-05-07", "2026-05-13", "2026-05-27"),  # a Saturday: day 0 is not a business day
    # year end: banks close Dec 31 – Jan 3 (not public holidays except Jan 1)
    ("2026-12-28", "2026-12-29", "2027-01-06", "2027-01-21"),  # 1/11 成人の日
    ("2026-12-30", "2027-01-04", "2027-01-08", "2027-01-25"),  # 1/11 成人の日
    ("2026-12-31", "2027-01-04", "2027-01-08", "2027-01-25"),
    # 振替休日: 2025-02-24 (Emperor's Birthday on Sunday 2/23)
    ("2025-02-21", "2025-02-25", "2025-03-03", "2025-03-17"),
    # 振替休日 and a spring equinox: 2027-03-22 (3/21 on Sunday)
    ("2027-03-19", "2027-03-23", "2027-03-29", "2027-04-12"),
]


def test_the_table_stands_on_the_library_calendar() -> None:
    """The dates the table is about are what the holiday library says they are (no typed list)."""
    assert holiday_name(date(2026, 5, 6)) == "Substitute Holiday"
    assert holiday_name(date(2025, 2, 24)) == "Substitute Holiday"
    assert holiday_name(date(2027, 3, 22)) == "Substitute Holiday"
    assert holiday_name(date(2026, 4, 29)) is not None and holiday_name(date(2026, 5, 5)) is not None
    assert holiday_name(date(2026, 12, 31)) is None and not is_bank_business_day(date(2026, 12, 31))
    assert not is_bank_business_day(date(2027, 1, 2)) and is_bank_business_day(date(2027, 1, 4))


@pytest.mark.parametrize(("opened", "report", "ack", "resolve"), TABLE)
def test_due_dates(opened: str, report: str, ack: str, resolve: str) -> None:
    start = date.fromisoformat(opened)
    assert add_business_days(start, 1) == date.fromisoformat(report)
    assert add_business_days(start, 5) == date.fromisoformat(ack)
    assert add_business_days(start, 15) == date.fromisoformat(resolve)
    at = jst(opened)
    for timer, expected in ((Timer.REPORT, report), (Timer.ACK, ack), (Timer.RESOLVE, resolve)):
        due = due_at(at, timer)
        assert due.astimezone(TOKYO).date() == date.fromisoformat(expected)
        assert (due.astimezone(TOKYO).hour, due.astimezone(TOKYO).minute) == (23, 59)


@pytest.mark.parametrize(
    ("opened", "due_day", "reminder_day"),
    [
        ("2026-04-28", "2026-05-11", "2026-05-08"),  # the business day before, across a weekend
        ("2026-04-30", "2026-05-07", "2026-05-01"),  # across Golden Week's holidays
        ("2026-12-28", "2027-01-06", "2027-01-05"),
        ("2027-01-05", "2027-01-06", "2027-01-05"),  # +1: the reminder is on the opening day itself
    ],
)
def test_reminder_is_on_the_business_day_before(opened: str, due_day: str, reminder_day: str) -> None:
    due = datetime.combine(date.fromisoformat(due_day), datetime.max.time(), tzinfo=TOKYO).astimezone(UTC)
    moment = reminder_at(jst(opened, 8), due)
    assert moment.astimezone(TOKYO).date() == date.fromisoformat(reminder_day)
    assert moment < due


def test_reminder_never_before_the_case_opened() -> None:
    opened = jst("2027-01-05", 15)  # after 09:00 on the day the +1 reminder would be
    due = due_at(opened, Timer.REPORT)
    assert reminder_at(opened, due) == opened


def test_age_in_business_days() -> None:
    assert business_days_between(date(2026, 4, 28), date(2026, 5, 11)) == 5
    assert business_days_between(date(2026, 12, 28), date(2027, 1, 6)) == 5
    assert business_days_between(date(2026, 5, 11), date(2026, 5, 11)) == 0


def test_timers_fire_in_order_and_public_body_adds_the_report() -> None:
    draft = CaseDraft(
        category=Category.PUBLIC_BODY_UDAP, summary="consumer agency letter", subject=Subject(store_id="s1")
    )
    case, _ = open_case(draft, case_id="c1", actor="arn:aws:iam::1:user/desk", now=jst("2026-04-28", 11))
    assert set(case.due) == {Timer.ACK, Timer.RESOLVE, Timer.REPORT}
    assert case.contact_hold is True
    first = next_firing(case)
    assert first == Firing(timer=Timer.REPORT, kind=FiringKind.REMINDER, at=case.reminder_at[Timer.REPORT])
    business, _ = open_case(
        draft.model_copy(update={"category": Category.SERVICE}),
        case_id="c2",
        actor="a",
        now=jst("2026-04-28"),
    )
    assert set(business.due) == {Timer.ACK, Timer.RESOLVE} and business.contact_hold is False
    assert business.due[Timer.ACK].astimezone(TOKYO).date() == date(2026, 5, 11)
