"""Fakes of the feeds slice's ports: the card-line store (``feeds.use_cases.card_lines.CardLineStore``,
the real one is ``feeds.store.FeedStore``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from cardops.feeds.domain.models import Employee
from cardops.feeds.domain.normalize import normalize_code
from cardops.feeds.domain.settlement import LineRecord
from cardops.feeds.store import LinkageCodeTaken, StoredLine, Tenant
from cardops.kernel.dynamodb import VersionConflict


class FakeFeedStore:
    """Tenants, employees (each linkage code held by one employee of the tenant), and lines stored
    once per identity, replaced only over the version read."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.staff: dict[str, dict[str, Employee]] = {}
        self.linkage: dict[tuple[str, str], str] = {}
        self.stored: dict[tuple[str, str], StoredLine] = {}
        self.synced_until: datetime | None = None

    def put_tenant(self, tenant: Tenant) -> None:
        self.tenants[tenant.tenant_id] = tenant

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def get_employee(self, tenant_id: str, employee_code: str) -> Employee | None:
        return self.staff.get(tenant_id, {}).get(employee_code)

    def employees(self, tenant_id: str) -> list[Employee]:
        return sorted(self.staff.get(tenant_id, {}).values(), key=lambda e: e.employee_code)

    def put_employee(self, tenant_id: str, employee: Employee) -> None:
        key = (tenant_id, normalize_code(employee.card_linkage_code))
        holder = self.linkage.get(key)
        if holder is not None and holder != employee.employee_code:
            raise LinkageCodeTaken(employee.card_linkage_code, holder)
        previous = self.get_employee(tenant_id, employee.employee_code)
        if previous is not None:
            self.linkage.pop((tenant_id, normalize_code(previous.card_linkage_code)), None)
        self.linkage[key] = employee.employee_code
        self.staff.setdefault(tenant_id, {})[employee.employee_code] = employee

    def add_lines(self, tenant_id: str, records: Sequence[LineRecord]) -> list[bool]:
        new = []
        for record in records:
            key = (tenant_id, record.line.line_id)
            new.append(key not in self.stored)
            self.stored.setdefault(key, StoredLine(tenant_id=tenant_id, record=record))
        return new

    def save_line(self, stored: StoredLine) -> StoredLine:
        current = self.stored.get((stored.tenant_id, stored.record.line.line_id))
        if current is None or current.version != stored.version:
            raise VersionConflict(stored.record.line.line_id)
        updated = stored.model_copy(update={"version": stored.version + 1})
        self.stored[(stored.tenant_id, stored.record.line.line_id)] = updated
        return updated

    def get_line(self, tenant_id: str, line_id: str) -> StoredLine | None:
        return self.stored.get((tenant_id, line_id))

    def _of(self, tenant_id: str) -> list[StoredLine]:
        lines = [s for (t, _), s in self.stored.items() if t == tenant_id]
        return sorted(lines, key=lambda s: (s.record.line.usage_date, s.record.line.line_id))

    def lines(self, tenant_id: str, *, since: date, until: date) -> list[StoredLine]:
        return [s for s in self._of(tenant_id) if since <= s.record.line.usage_date <= until]

    def lines_on(self, tenant_id: str, day: date) -> list[StoredLine]:
        return self.lines(tenant_id, since=day, until=day)

    def error_lines(self, tenant_id: str) -> list[StoredLine]:
        return [s for s in self._of(tenant_id) if s.record.employee_code is None]

    def employee_lines(self, tenant_id: str, employee_code: str) -> list[StoredLine]:
        return [s for s in self._of(tenant_id) if s.record.employee_code == employee_code]

    def watermark(self) -> datetime | None:
        return self.synced_until
