"""Tenants, the employee master and card lines after the sync (SPEC §7, §8 contract 5).

Error data (admin-only): list it, apply a proposed fix in one step (the master changes, then the
tenant's error lines are re-matched), re-match after master changes, assign a line by hand. Later
use of a matched line follows the settlement rules: corporate lines are linked to a report by an
admin, personal lines are excluded by the employee; either kind is selected in a claim. Diagnosis
answers "I paid by card but cannot select the line".
"""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cardops.feeds.domain.corporate_number import compact, corporate_number_problem, why_invalid
from cardops.feeds.domain.diagnosis import Diagnosis, TenantFeedFacts, diagnose
from cardops.feeds.domain.employees import parse_employees_csv
from cardops.feeds.domain.matching import ComparedField, ProposedFix, ReasonCode, TenantMatcher
from cardops.feeds.domain.models import Employee, Settlement
from cardops.feeds.domain.refund_links import RefundLink
from cardops.feeds.domain.settlement import (
    LineRecord,
    link_to_submitted_report,
    mark_excluded,
    select_for_claim,
)
from cardops.feeds.store import LinkageCodeTaken, StoredLine, Tenant
from cardops.support import hooks


class NotFound(LookupError):
    """A tenant's employee or line that does not exist."""


class InvalidCorporateNumber(ValueError):
    """A corporate number that cannot be a 法人番号: refused, so the tenant keeps what it had."""


class CardLineConflict(Exception):
    """The line is not in a state that allows the action; ``code`` names why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


CorporateNumberStatus = Literal["valid", "corporate_number_missing", "corporate_number_invalid"]


class TenantView(BaseModel):
    tenant_id: str
    corporate_number: str | None
    corporate_number_status: CorporateNumberStatus
    updated_at: AwareDatetime
    updated_by: str | None = None

    @classmethod
    def of(cls, tenant: Tenant) -> TenantView:
        return cls(
            tenant_id=tenant.tenant_id,
            corporate_number=tenant.corporate_number,
            corporate_number_status=corporate_number_problem(tenant.corporate_number) or "valid",
            updated_at=tenant.updated_at,
            updated_by=tenant.updated_by,
        )


class LineView(BaseModel):
    """A card line as admins and employees see it (no full card number is ever stored)."""

    line_id: str
    card_company: str
    usage_date: date
    posting_date: date | None
    merchant: str
    amount: int
    currency: str
    local_amount: str | None
    local_currency: str | None
    last4: str | None
    settlement: Settlement
    source_file: str
    line_number: int
    employee_code: str | None
    report_id: str | None
    excluded: bool
    selectable: bool
    refund: RefundLink | None = None
    changed_by: str | None = None

    @classmethod
    def of(cls, stored: StoredLine) -> LineView:
        record, line = stored.record, stored.record.line
        return cls(
            line_id=line.line_id,
            card_company=line.card_company,
            usage_date=line.usage_date,
            posting_date=line.posting_date,
            merchant=line.merchant,
            amount=line.amount,
            currency=line.currency,
            local_amount=str(line.local_amount) if line.local_amount is not None else None,
            local_currency=line.local_currency,
            last4=line.last4,
            settlement=line.settlement,
            source_file=line.source_file,
            line_number=line.line_number,
            employee_code=record.employee_code,
            report_id=record.report_id,
            excluded=record.excluded,
            selectable=record.selectable,
            refund=stored.refund,
            changed_by=stored.changed_by,
        )


class CardErrorView(BaseModel):
    """One error-data line: the reason code, the hint, and the exact master change that fixes it."""

    line_id: str
    card_company: str
    usage_date: date
    amount: int
    merchant: str
    settlement: Settlement
    source_file: str
    line_number: int
    card_linkage_code: str
    card_employee_code: str | None
    card_kana_name: str | None
    reason: ReasonCode
    hint: str
    proposed_fix: ProposedFix | None
    employee_code: str | None
    compared: tuple[ComparedField, ...]

    @classmethod
    def of(cls, stored: StoredLine) -> CardErrorView:
        line, error = stored.record.line, stored.record.error
        if error is None:
            raise ValueError("a matched line is not error data")
        return cls(
            line_id=line.line_id,
            card_company=line.card_company,
            usage_date=line.usage_date,
            amount=line.amount,
            merchant=line.merchant,
            settlement=line.settlement,
            source_file=line.source_file,
            line_number=line.line_number,
            card_linkage_code=line.linkage_code,
            card_employee_code=line.employee_code,
            card_kana_name=line.kana_name,
            reason=error.reason,
            hint=error.hint,
            proposed_fix=error.proposed_fix,
            employee_code=error.employee_code,
            compared=error.compared,
        )


class RematchResult(BaseModel):
    matched: list[str] = Field(default_factory=list)
    still_unmatched: list[CardErrorView] = Field(default_factory=list)


class AppliedFix(BaseModel):
    applied: ProposedFix
    employee: Employee
    rematch: RematchResult


class ImportProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: int | None = None
    employee_code: str | None = None
    reason: str


class ImportResult(BaseModel):
    imported: int
    problems: list[ImportProblem]


class CardLineStore(Protocol):
    """The tenants, employees and stored lines (``feeds.store.FeedStore``; ``tests/fakes/feeds.py``)."""

    def put_tenant(self, tenant: Tenant) -> None: ...

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def get_employee(self, tenant_id: str, employee_code: str) -> Employee | None: ...

    def employees(self, tenant_id: str) -> list[Employee]: ...

    def put_employee(self, tenant_id: str, employee: Employee) -> None: ...

    def save_line(self, stored: StoredLine) -> StoredLine: ...

    def get_line(self, tenant_id: str, line_id: str) -> StoredLine | None: ...

    def lines_on(self, tenant_id: str, day: date) -> list[StoredLine]: ...

    def error_lines(self, tenant_id: str) -> list[StoredLine]: ...

    def employee_lines(self, tenant_id: str, employee_code: str) -> list[StoredLine]: ...

    def watermark(self) -> datetime | None: ...


class CardLines:
    """Built by ``feeds.wiring.card_lines``."""

    def __init__(self, store: CardLineStore) -> None:
        self.store = store

    # ---- master ------------------------------------------------------------------------------
    def put_tenant(
        self, tenant_id: str, corporate_number: str | None, now: datetime, *, actor: str
    ) -> TenantView:
        """Registered compacted; an invalid number is refused (none at all is allowed and blocks linking)."""
        value = compact(corporate_number) if corporate_number and corporate_number.strip() else None
        problem = why_invalid(corporate_number) if value is not None and corporate_number else None
        if problem is not None:
            raise InvalidCorporateNumber(problem)
        tenant = Tenant(tenant_id=tenant_id, corporate_number=value, updated_at=now, updated_by=actor)
        self.store.put_tenant(tenant)
        return TenantView.of(tenant)

    def get_tenant(self, tenant_id: str) -> TenantView:
        tenant = self.store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id}")
        return TenantView.of(tenant)

    def put_employee(self, tenant_id: str, employee: Employee) -> Employee:
        """Raises ``LinkageCodeTaken`` when another employee holds the linkage code."""
        self.store.put_employee(tenant_id, employee)
        return employee

    def employees(self, tenant_id: str) -> list[Employee]:
        """The tenant's employee master, by employee code."""
        return sorted(self.store.employees(tenant_id), key=lambda e: e.employee_code)

    def employee(self, tenant_id: str, employee_code: str) -> Employee:
        found = self.store.get_employee(tenant_id, employee_code)
        if found is None:
            raise NotFound(f"no employee {employee_code} in tenant {tenant_id}")
        return found

    def import_employees(self, tenant_id: str, content: bytes, source_file: str) -> ImportResult:
        """Bulk import (UTF-8 or CP932); bad rows and taken linkage codes are reported, the rest imports."""
        problems: list[ImportProblem] = []
        imported = 0
        for item in parse_employees_csv(BytesIO(content), source_file):
            if not isinstance(item, Employee):
                problems.append(ImportProblem(line=item.line_number, reason=item.reason))
                continue
            try:
                self.store.put_employee(tenant_id, item)
            except LinkageCodeTaken as exc:
                problems.append(ImportProblem(employee_code=item.employee_code, reason=str(exc)))
                continue
            imported += 1
        return ImportResult(imported=imported, problems=problems)

    # ---- error data --------------------------------------------------------------------------
    def errors(self, tenant_id: str) -> list[CardErrorView]:
        return [CardErrorView.of(s) for s in self.store.error_lines(tenant_id) if s.record.error is not None]

    def _matcher(self, tenant_id: str) -> TenantMatcher:
        tenant = self.store.get_tenant(tenant_id)
        return TenantMatcher(tenant.corporate_number if tenant else None, self.store.employees(tenant_id))

    def _line(self, tenant_id: str, line_id: str) -> StoredLine:
        stored = self.store.get_line(tenant_id, line_id)
        if stored is None:
            raise NotFound(f"no card line {line_id} in tenant {tenant_id}")
        return stored

    def rematch(self, tenant_id: str) -> RematchResult:
        """Every error line through a matcher built from the current master."""
        matcher = self._matcher(tenant_id)
        result = RematchResult()
        for stored in self.store.error_lines(tenant_id):
            outcome = matcher.match(stored.record.line)
            if outcome.employee is not None:
                record = stored.record.model_copy(
                    update={"employee_code": outcome.employee.employee_code, "error": None}
                )
                self.store.save_line(stored.model_copy(update={"record": record}))
                result.matched.append(stored.record.line.line_id)
                continue
            updated = stored
            if outcome.error != stored.record.error:
                record = stored.record.model_copy(update={"error": outcome.error})
                updated = self.store.save_line(stored.model_copy(update={"record": record}))
            result.still_unmatched.append(CardErrorView.of(updated))
        return result

    def apply_fix(self, tenant_id: str, line_id: str) -> AppliedFix:
        """The error's proposed master change, then a re-match of the tenant's error lines."""
        stored = self._line(tenant_id, line_id)
        error = stored.record.error
        if error is None:
            raise CardLineConflict("line_already_matched", f"line {line_id} is not error data")
        fix = error.proposed_fix
        if fix is None:
            raise CardLineConflict(
                "no_proposed_fix",
                f"line {line_id} ({error.reason}) has no exact fix: edit the master or assign it",
            )
        employee = self.employee(tenant_id, fix.employee_code)
        updated = Employee.model_validate({**employee.model_dump(), fix.field: fix.value})
        self.store.put_employee(tenant_id, updated)
        return AppliedFix(applied=fix, employee=updated, rematch=self.rematch(tenant_id))

    def assign(self, tenant_id: str, line_id: str, employee_code: str, *, actor: str) -> LineView:
        """An admin's hand assignment of an error line (refused while the corporate number blocks)."""
        stored = self._line(tenant_id, line_id)
        if stored.record.employee_code is not None:
            raise CardLineConflict(
                "line_already_matched", f"line {line_id} is already matched to {stored.record.employee_code}"
            )
        outcome = self._matcher(tenant_id).assign(stored.record.line, employee_code)
        if outcome.employee is None:  # pragma: no cover - assign always names the employee
            raise NotFound(employee_code)
        record = stored.record.model_copy(
            update={"employee_code": outcome.employee.employee_code, "error": None}
        )
        return self._apply(stored, record, actor)

    # ---- later use ---------------------------------------------------------------------------
    def _apply(self, stored: StoredLine, record: LineRecord, actor: str) -> LineView:
        changed = stored.model_copy(update={"record": record, "changed_by": actor})
        return LineView.of(self.store.save_line(changed))

    def link(
        self, tenant_id: str, line_id: str, employee_code: str, report_id: str, *, actor: str
    ) -> LineView:
        """Corporate-settled only: link the line to a report submitted without it."""
        stored = self._line(tenant_id, line_id)
        return self._apply(stored, link_to_submitted_report(stored.record, employee_code, report_id), actor)

    def select(
        self, tenant_id: str, employee_code: str, line_id: str, report_id: str, *, actor: str
    ) -> LineView:
        stored = self._line(tenant_id, line_id)
        return self._apply(stored, select_for_claim(stored.record, employee_code, report_id), actor)

    def exclude(self, tenant_id: str, employee_code: str, line_id: str, *, actor: str) -> LineView:
        """Personal-settled only: the employee marks a leftover line excluded (対象外)."""
        stored = self._line(tenant_id, line_id)
        return self._apply(stored, mark_excluded(stored.record, employee_code), actor)

    def employee_lines(self, tenant_id: str, employee_code: str, *, selectable_only: bool) -> list[LineView]:
        self.employee(tenant_id, employee_code)
        views = [LineView.of(s) for s in self.store.employee_lines(tenant_id, employee_code)]
        return [v for v in views if v.selectable] if selectable_only else views

    def diagnose(
        self, tenant_id: str, employee_code: str, usage_date: date, amount: int | None, now: datetime
    ) -> Diagnosis:
        employee = self.employee(tenant_id, employee_code)
        tenant = self.store.get_tenant(tenant_id)
        lines = self.store.lines_on(tenant_id, usage_date)
        card_company = lines[0].record.line.card_company if lines else None
        facts = TenantFeedFacts(
            corporate_number=tenant.corporate_number if tenant else None,
            lines=[s.record for s in lines],
            last_sync_watermark=self.store.watermark(),
            card_company=card_company,
        )
        found = diagnose(employee, usage_date, facts, now, amount=amount)
        hooks.card_feed_diagnosed(
            tenant_id=tenant_id, employee_code=employee_code, usage_date=usage_date, cause=found.cause,
            reason=found.reason, message=found.message,
        )  # fmt: skip
        return found
