"""The monthly complaints report (seed 002: 毎月…苦情をまとめたリストを報告): counts by category, SLA
met/missed, and the cases still open with their age in business days.

A month is an Asia/Tokyo calendar month. Cases *opened* in the month are counted; the open aged
cases are every case still open at the report's ``as_of`` (the end of the month, or now when the
month is not over) that was opened by then, whatever month it was opened in.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cardops.kernel.calendar import end_of_tokyo_day, tokyo_date
from cardops.support.domain.cases import Case, Category
from cardops.support.domain.sla import Timer, business_days_between

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class InvalidMonthError(ValueError):
    code = "invalid_month"


def parse_month(text: str, *, now: datetime) -> date:
    """``YYYY-MM`` → its first day; refuses anything else and a month that has not started."""
    found = _MONTH.match(text.strip()) if isinstance(text, str) else None
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
        raise InvalidMonthError(f"month must be YYYY-MM (e.g. 2026-05), got {text!r}")
    first = date(int(found.group(1)), int(found.group(2)), 1)
    if first > tokyo_date(now):
        raise InvalidMonthError(f"month {text} has not started yet (Asia/Tokyo)")
    return first


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


SlaState = Literal["met", "missed", "pending"]


class SlaCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    met: int = 0
    missed: int = 0
    pending: int = 0


class AgedCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    category: Category
    status: str
    opened_at: datetime
    age_business_days: int
    ack: SlaState
    resolve: SlaState
    contact_hold: bool


class MonthlyReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    month: str
    as_of: datetime
    generated_at: datetime
    opened: int
    public_body: int
    by_category: dict[str, int]
    sla: dict[Timer, SlaCounts]
    open_aged: list[AgedCase]


def monthly_report(
    month: date, *, opened_in_month: list[Case], aged_candidates: list[Case], now: datetime
) -> MonthlyReport:
    last = month_end(month)
    as_of = min(now, end_of_tokyo_day(last))
    cases = sorted(opened_in_month, key=lambda c: (c.opened_at, c.case_id))
    by_category = {category.value: 0 for category in Category}
    for case in cases:
        by_category[case.category.value] += 1
    sla: dict[Timer, SlaCounts] = {}
    for timer in Timer:
        states = [case.sla_state(timer, as_of) for case in cases if timer in case.due]
        sla[timer] = SlaCounts(
            met=states.count("met"), missed=states.count("missed"), pending=states.count("pending")
        )
    aged = [
        AgedCase(
            case_id=case.case_id,
            category=case.category,
            status=case.status.value,
            opened_at=case.opened_at,
            age_business_days=business_days_between(tokyo_date(case.opened_at), tokyo_date(as_of)),
            ack=case.sla_state(Timer.ACK, as_of),
            resolve=case.sla_state(Timer.RESOLVE, as_of),
            contact_hold=case.contact_hold,
        )
        for case in sorted(aged_candidates, key=lambda c: (c.opened_at, c.case_id))
        if case.opened_at <= as_of and (case.resolved_at is None or case.resolved_at > as_of)
    ]
    return MonthlyReport(
        month=month.strftime("%Y-%m"),
        as_of=as_of,
        generated_at=now,
        opened=len(cases),
        public_body=sum(1 for case in cases if case.public_body),
        by_category=by_category,
        sla=sla,
        open_aged=aged,
    )


def report_csv(report: MonthlyReport) -> str:
    """One CSV with three sections (``section`` column): category counts, SLA counts, open aged cases."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "month", "key", "count", "met", "missed", "pending", "detail"])
    for category, count in report.by_category.items():
        writer.writerow(["category", report.month, category, count, "", "", "", ""])
    for timer, counts in report.sla.items():
        writer.writerow(["sla", report.month, timer.value, "", counts.met, counts.missed, counts.pending, ""])
    for case in report.open_aged:
        detail = (
            f"{case.category.value} {case.status} opened {case.opened_at.isoformat()} ack={case.ack} "
            f"resolve={case.resolve}" + (" contact_hold" if case.contact_hold else "")
        )
        writer.writerow(["open_aged", report.month, case.case_id, case.age_business_days, "", "", "", detail])
    return out.getvalue()
