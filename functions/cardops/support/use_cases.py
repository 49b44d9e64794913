"""Use cases of support cases (issue 16): open, act, show with the payment answers, timers, reports.

Every port is a small protocol given in ``Deps`` (``wiring.py`` builds the real ones), so these run
on in-memory fakes as well as on DynamoDB, Step Functions and S3.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from cardops.kernel.calendar import tokyo_date
from cardops.kernel.dynamodb import VersionConflict
from cardops.payments.domain.payments import Payment
from cardops.support.domain import cases as rules
from cardops.support.domain.cases import Case, CaseDraft, CaseHistoryEntry, CaseStatus
from cardops.support.domain.payment_answers import (
    LinkedRefund,
    PaymentAnswers,
    RefundCandidate,
    answer_for_payment,
)
from cardops.support.domain.report import (
    MonthlyReport,
    monthly_report,
    parse_month,
    previous_month,
    report_csv,
)
from cardops.support.domain.sla import (
    DEFAULT_POLICY,
    Firing,
    FiringKind,
    SlaPolicy,
    Timer,
    is_first_business_day,
)


class CaseRepository(Protocol):
    def save(self, case: Case, entry: CaseHistoryEntry) -> None: ...
    def get(self, case_id: str) -> Case | None: ...
    def get_with_history(self, case_id: str) -> tuple[Case, list[CaseHistoryEntry]] | None: ...
    def opened_in(self, month: date) -> list[Case]: ...
    def open_cases(self) -> list[Case]: ...
    def resolved_in(self, month: date) -> list[Case]: ...


class CaseWorkflows(Protocol):
    """One Standard execution per case, named after it (a second start is a no-op)."""

    def start(self, case_id: str) -> None: ...
    def stop(self, case_id: str, cause: str) -> None: ...


class PaymentReads(Protocol):
    """What support reads about payments, through the payments and ledger slices' public use cases."""

    def payment(self, provider: str, payment_id: str) -> Payment | None: ...
    def refunds(self, provider: str, payment_id: str) -> list[LinkedRefund]: ...
    def store_refunds(
        self, store_id: str, provider: str, currency: str, *, since: date, now: datetime
    ) -> list[RefundCandidate]: ...


class ReportSink(Protocol):
    def write(self, month: str, *, json_text: str, csv_text: str) -> list[str]: ...


class CaseNotFoundError(LookupError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id} not found")


class SubjectError(ValueError):
    """The case names a payment that does not exist, or one of another store."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Deps:
    cases: CaseRepository
    workflows: CaseWorkflows
    payments: PaymentReads
    reports: ReportSink
    policy: SlaPolicy = DEFAULT_POLICY
    new_id: Callable[[], str] = lambda: "case-" + uuid.uuid4().hex[:20]


class CaseDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    case: Case
    history: list[CaseHistoryEntry]
    #: for a case about a payment: what support answers from the data (seed 002)
    payment: PaymentAnswers | None = None


#: how far back the refund candidates of a store are read, before the payment's authorization
CANDIDATE_WINDOW = timedelta(days=7)


def _check_subject(deps: Deps, draft: CaseDraft, known: Payment | None) -> None:
    reference = draft.subject.payment
    if reference is None:
        return
    held = known is not None and (known.provider, known.provider_payment_id) == reference
    payment = known if held else deps.payments.payment(*reference)
    if payment is None:
        raise SubjectError("payment_not_found", f"payment {reference[0]}/{reference[1]} not found")
    if payment.metadata.store_id != draft.subject.store_id:
        raise SubjectError(
            "payment_of_another_store",
            f"payment {reference[0]}/{reference[1]} is not a payment of store {draft.subject.store_id}",
        )


def open_case(
    deps: Deps, draft: CaseDraft, *, actor: str, now: datetime, payment: Payment | None = None
) -> Case:
    """Open a case and start its timers. An automatic source opens one case, however often it calls.

    ``payment``: the subject's payment as the caller already holds it (a change-feed image), checked
    instead of read: the check needs only that it exists and its store, which never changes. A
    source's case is written first, under the condition that it is new; only when that refuses is
    the case read (a repeated call or a concurrent one), so the first call costs no read.
    """
    _check_subject(deps, draft, payment)
    case_id = rules.case_id_for_source(draft.source) if draft.source is not None else deps.new_id()
    case, entry = rules.open_case(draft, case_id=case_id, actor=actor, now=now, policy=deps.policy)
    try:
        deps.cases.save(case, entry)
    except VersionConflict:
        found = deps.cases.get(case_id) if draft.source is not None else None
        if found is None:
            raise
        case = found  # the same source opened it before, or concurrently
    deps.workflows.start(case_id)  # for an existing case: a start lost after its write is made good
    return case


def _load(deps: Deps, case_id: str) -> Case:
    case = deps.cases.get(case_id)
    if case is None:
        raise CaseNotFoundError(case_id)
    return case


Action = Literal["acknowledge", "report", "release_hold", "contact", "resolve"]


def act(deps: Deps, case_id: str, action: Action, *, actor: str, now: datetime, note: str = "") -> Case:
    """One desk action on a case, recorded with its actor; resolving stops the case's timers."""
    case = _load(deps, case_id)
    if action == "acknowledge":
        updated, entry = rules.acknowledge(case, actor=actor, now=now, note=note)
    elif action == "report":
        updated, entry = rules.report_to_program(case, actor=actor, now=now, note=note)
    elif action == "release_hold":
        updated, entry = rules.release_hold(case, actor=actor, now=now, note=note)
    elif action == "contact":
        updated, entry = rules.record_contact(case, actor=actor, now=now, note=note)
    else:
        updated, entry = rules.resolve(case, actor=actor, now=now, resolution=note)
    deps.cases.save(updated, entry)
    if updated.status is CaseStatus.RESOLVED:
        deps.workflows.stop(case_id, "case resolved")
    return updated


def show(deps: Deps, case_id: str, *, now: datetime, amount: int | None = None) -> CaseDetail:
    found = deps.cases.get_with_history(case_id)
    if found is None:
        raise CaseNotFoundError(case_id)
    case, history = found
    return CaseDetail(case=case, history=history, payment=payment_answers(deps, case, now=now, amount=amount))


def payment_answers(
    deps: Deps, case: Case, *, now: datetime, amount: int | None = None
) -> PaymentAnswers | None:
    reference = case.subject.payment
    if reference is None:
        return None
    payment = deps.payments.payment(*reference)
    if payment is None:
        return None
    store_id = payment.metadata.store_id
    currency = payment.facts.currency
    start = payment.facts.authorized_at or payment.created_at
    candidates = (
        deps.payments.store_refunds(
            store_id, payment.provider, currency, since=tokyo_date(start - CANDIDATE_WINDOW), now=now
        )
        if store_id and currency
        else []
    )
    return answer_for_payment(
        payment, refunds=deps.payments.refunds(*reference), store_refunds=candidates, now=now, amount=amount
    )


def list_cases(deps: Deps, *, status: Literal["open", "all"], month: str | None, now: datetime) -> list[Case]:
    """Open cases (oldest first), or every case opened in ``month``."""
    if month is not None:
        found = deps.cases.opened_in(parse_month(month, now=now))
        if status == "open":
            found = [c for c in found if not c.closed]
    else:
        found = deps.cases.open_cases()
    return sorted(found, key=lambda c: (c.opened_at, c.case_id))


# -- the operator queue ---------------------------------------------------------------------------

#: what finance's operator queue holds: automatic refunds at the capture deadline that failed
OPERATOR_QUEUE = frozenset({rules.Category.AUTO_REFUND_FAILED})
#: outcomes of a retried automatic refund that leave nothing to do (SPEC §3: no authorization held)
SETTLED_OUTCOMES = frozenset({"expired_refunded", "captured", "closed"})


def operator_queue(deps: Deps) -> list[Case]:
    """The open cases of the operator queue, oldest first."""
    return sorted(
        (c for c in deps.cases.open_cases() if c.category in OPERATOR_QUEUE),
        key=lambda c: (c.opened_at, c.case_id),
    )


def settle(deps: Deps, case_id: str, *, actor: str, now: datetime, resolution: str) -> Case:
    """Resolve a case in one step: acknowledged first when nobody has yet, both by ``actor``."""
    case = _load(deps, case_id)
    if case.acknowledged_at is None and not case.closed:
        act(deps, case_id, "acknowledge", actor=actor, now=now, note=resolution)
    return act(deps, case_id, "resolve", actor=actor, now=now, note=resolution)


def retry_auto_refund(
    deps: Deps, case_id: str, retry: Callable[[str, str], str], *, actor: str, now: datetime
) -> tuple[str, Case]:
    """Retry the failed automatic refund of an operator-queue case (``retry``: the payments slice's
    capture-deadline step, by provider and payment id, answering its outcome); when nothing is left
    to do the case is resolved with that outcome, by ``actor``. A failure raises and leaves it open."""
    case = _load(deps, case_id)
    reference = case.subject.payment
    if case.category not in OPERATOR_QUEUE or reference is None:
        raise rules.CaseError(f"case {case_id} is not an automatic refund of a payment: nothing to retry")
    if case.closed:
        raise rules.CaseClosedError(case)
    outcome = retry(*reference)
    if outcome not in SETTLED_OUTCOMES:
        return outcome, case
    resolution = f"automatic refund retried: {outcome}"
    return outcome, settle(deps, case_id, actor=actor, now=now, resolution=resolution)


# -- the workflow's steps ------------------------------------------------------------------------


def check(deps: Deps, case_id: str) -> dict[str, Any]:
    """What the case's execution waits for next; ``waiting`` false ends it."""
    case = _load(deps, case_id)
    firing = rules.next_firing(case)
    if firing is None:
        return {"waiting": False, "status": case.status.value, "next": None}
    return {
        "waiting": True,
        "status": case.status.value,
        "next": {"at": wait_timestamp(firing.at), "timer": firing.timer.value, "kind": firing.kind.value},
    }


def wait_timestamp(moment: datetime) -> str:
    """An ASL ``TimestampPath`` value at or after ``moment`` (Wait states have 1 s resolution)."""
    from cardops.payments.use_cases.capture import wait_timestamp as after

    return after(moment)


def fire(deps: Deps, case_id: str, timer: str, kind: str, *, now: datetime) -> dict[str, Any]:
    """A reminder or an escalation, recorded once (a retried step finds it done)."""
    case = _load(deps, case_id)
    firing = Firing(timer=Timer(timer), kind=FiringKind(kind), at=_at(case, Timer(timer), FiringKind(kind)))
    changed = rules.fire(case, firing, actor="workflow", now=now)
    if changed is None:
        return {"fired": False, "kind": kind, "timer": timer}
    updated, entry = changed
    deps.cases.save(updated, entry)
    return {
        "fired": True,
        "kind": kind,
        "timer": timer,
        "escalated_to": updated.escalated_to[-1] if kind == FiringKind.ESCALATION.value else None,
        "category": updated.category.value,
        "public_body": updated.public_body,
    }


def _at(case: Case, timer: Timer, kind: FiringKind) -> datetime:
    if timer not in case.due:
        raise ValueError(f"case {case.case_id} has no {timer.value} timer")
    return case.reminder_at[timer] if kind is FiringKind.REMINDER else case.due[timer]


# -- the monthly report ---------------------------------------------------------------------------


def report(deps: Deps, month: str, *, now: datetime) -> MonthlyReport:
    """The complaints report of ``month`` (``YYYY-MM``, Asia/Tokyo) as it stands at ``now``."""
    first = parse_month(month, now=now)
    opened = deps.cases.opened_in(first)
    # still open at the month's end: open now, or resolved in a later month (read month by month)
    candidates: dict[str, Case] = {c.case_id: c for c in deps.cases.open_cases()}
    later = _next_month(first)
    this_month = tokyo_date(now).replace(day=1)
    while later <= this_month:
        candidates.update({c.case_id: c for c in deps.cases.resolved_in(later)})
        later = _next_month(later)
    candidates.update({c.case_id: c for c in opened})
    return monthly_report(first, opened_in_month=opened, aged_candidates=list(candidates.values()), now=now)


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def write_report(deps: Deps, month: str, *, now: datetime) -> tuple[MonthlyReport, list[str]]:
    built = report(deps, month, now=now)
    keys = deps.reports.write(
        built.month, json_text=built.model_dump_json(indent=2), csv_text=report_csv(built)
    )
    return built, keys


def scheduled_report(deps: Deps, *, now: datetime) -> dict[str, Any]:
    """The schedule runs every weekday; on the month's first business day it writes last month's report."""
    today = tokyo_date(now)
    if not is_first_business_day(today):
        return {"status": "skipped_not_first_business_day", "business_date": today.isoformat()}
    month = previous_month(today).strftime("%Y-%m")
    built, keys = write_report(deps, month, now=now)
    return {
        "status": "written",
        "business_date": today.isoformat(),
        "month": month,
        "opened": built.opened,
        "keys": keys,
    }


def missed(result: dict[str, Any]) -> bool:
    return bool(result.get("fired")) and result.get("kind") == FiringKind.ESCALATION.value
