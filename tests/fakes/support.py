"""Fakes of the support slice's ports (``support.use_cases.Deps``): cases with their history,
the per-case timer executions, what support reads of payments, and the report bucket."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from cardops.kernel.dynamodb import VersionConflict
from cardops.payments.domain.payments import Payment
from cardops.support.domain.cases import Case, CaseHistoryEntry, CaseStatus
from cardops.support.domain.payment_answers import LinkedRefund, RefundCandidate


class FakeCases:
    """Cases saved as the store saves them: a new case once, the next version only over the one read."""

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self.history: dict[str, list[CaseHistoryEntry]] = {}

    def save(self, case: Case, entry: CaseHistoryEntry) -> None:
        stored = self.cases.get(case.case_id)
        if (stored.version if stored else 0) != case.version - 1:
            raise VersionConflict(case.case_id)
        self.cases[case.case_id] = case
        self.history.setdefault(case.case_id, []).append(entry)

    def get(self, case_id: str) -> Case | None:
        return self.cases.get(case_id)

    def get_with_history(self, case_id: str) -> tuple[Case, list[CaseHistoryEntry]] | None:
        case = self.cases.get(case_id)
        return (case, list(self.history[case_id])) if case else None

    def opened_in(self, month: date) -> list[Case]:
        return [
            c
            for c in self.cases.values()
            if (c.opened_at.year, c.opened_at.month) == (month.year, month.month)
        ]

    def open_cases(self) -> list[Case]:
        return [c for c in self.cases.values() if c.status is not CaseStatus.RESOLVED]

    def resolved_in(self, month: date) -> list[Case]:
        return [
            c
            for c in self.cases.values()
            if c.resolved_at is not None
            and (c.resolved_at.year, c.resolved_at.month) == (month.year, month.month)
        ]


@dataclass
class FakeCaseWorkflows:
    """Executions by case id: a second start of a running one is a no-op, as with named executions."""

    running: set[str] = field(default_factory=set)
    started: list[str] = field(default_factory=list)
    stopped: list[tuple[str, str]] = field(default_factory=list)

    def start(self, case_id: str) -> None:
        if case_id not in self.running:
            self.running.add(case_id)
            self.started.append(case_id)

    def stop(self, case_id: str, cause: str) -> None:
        if case_id in self.running:
            self.running.discard(case_id)
            self.stopped.append((case_id, cause))


@dataclass
class FakePaymentReads:
    payments: dict[tuple[str, str], Payment] = field(default_factory=dict)
    linked: dict[tuple[str, str], list[LinkedRefund]] = field(default_factory=dict)
    candidates: list[RefundCandidate] = field(default_factory=list)

    def payment(self, provider: str, payment_id: str) -> Payment | None:
        return self.payments.get((provider, payment_id))

    def refunds(self, provider: str, payment_id: str) -> list[LinkedRefund]:
        return self.linked.get((provider, payment_id), [])

    def store_refunds(
        self, store_id: str, provider: str, currency: str, *, since: date, now: datetime
    ) -> list[RefundCandidate]:
        return [c for c in self.candidates if c.store_id == store_id and c.currency == currency]


@dataclass
class FakeReports:
    written: dict[str, tuple[str, str]] = field(default_factory=dict)

    def write(self, month: str, *, json_text: str, csv_text: str) -> list[str]:
        self.written[month] = (json_text, csv_text)
        return [f"reports/{month}.json", f"reports/{month}.csv"]
