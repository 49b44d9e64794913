"""Fakes of the feeds slice's ports: the card-line store (``feeds.use_cases.card_lines`` and the
sync's ``Directory``/``LineStore``/``SyncState``, the real one is ``feeds.store.FeedStore``) and the
delivered files (``FeedFileSource``, the real one ``feeds.store.FeedFiles``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from io import BytesIO
from typing import TypeVar

from pydantic import BaseModel

from cardops.feeds.domain.models import Employee
from cardops.feeds.domain.normalize import normalize_code
from cardops.feeds.domain.refund_links import card_key
from cardops.feeds.domain.settlement import LineRecord
from cardops.feeds.store import FeedLocation, LinkageCodeTaken, StoredLine, Tenant, feed_location
from cardops.kernel.dynamodb import VersionConflict

M = TypeVar("M", bound=BaseModel)


class FakeFeedStore:
    """Tenants, employees (each linkage code held by one employee of the tenant), and lines stored
    once per identity, replaced only over the version read."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.staff: dict[str, dict[str, Employee]] = {}
        self.linkage: dict[tuple[str, str], str] = {}
        self.stored: dict[tuple[str, str], StoredLine] = {}
        self.synced_until: datetime | None = None
        #: file key → ETag of the files finished runs read
        self.done: dict[str, str] = {}
        self.checkpoint: str | None = None
        #: (business date, started at, summary JSON) of every recorded run
        self.recorded: list[tuple[date, datetime, str]] = []
        #: ``add_lines`` calls, each with how many lines it was given
        self.add_calls: list[int] = []
        self.batched = False

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
        self.add_calls.append(len(records))
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

    def refund_lines(
        self, tenant_id: str, *, since: date, until: date, window: timedelta
    ) -> list[StoredLine]:
        """The refunds used in the range and the lines on their cards from ``window`` before the first."""
        refunds = [s for s in self.lines(tenant_id, since=since, until=until) if s.record.line.amount < 0]
        if not refunds:
            return []
        cards = {card_key(s.record.line) for s in refunds}
        first = max(since, min(s.record.line.usage_date for s in refunds) - window)
        last = max(s.record.line.usage_date for s in refunds)
        near = [s for s in self.lines(tenant_id, since=first, until=last) if card_key(s.record.line) in cards]
        return sorted({s.record.line.line_id: s for s in near + refunds}.values(), key=_line_id)

    # ---- runs, checkpoint, watermark ---------------------------------------------------------
    def watermark(self) -> datetime | None:
        return self.synced_until

    def advance_watermark(self, to: datetime) -> None:
        if self.synced_until is None or to > self.synced_until:
            self.synced_until = to

    def done_etag(self, key: str) -> str | None:
        return self.done.get(key)

    def mark_done(self, key: str, etag: str, at: datetime) -> None:
        self.done[key] = etag

    def get_checkpoint(self, model: type[M]) -> M | None:
        return None if self.checkpoint is None else model.model_validate_json(self.checkpoint)

    def put_checkpoint(self, checkpoint: BaseModel) -> None:
        self.checkpoint = checkpoint.model_dump_json()  # stored as text, like the table's item

    def clear_checkpoint(self) -> None:
        self.checkpoint = None

    def record_run(self, business_date: date, started_at: datetime, summary: BaseModel) -> None:
        self.recorded.append((business_date, started_at, summary.model_dump_json()))

    def runs(self, business_date: date | None = None) -> list[str]:
        """Recorded run summaries (JSON), oldest first; of one business date when given."""
        return [
            doc
            for day, at, doc in sorted(self.recorded, key=lambda r: (r[0], r[1]))
            if business_date is None or day == business_date
        ]


def _line_id(stored: StoredLine) -> str:
    return stored.record.line.line_id


class FakeFeedFiles:
    """The feed bucket in memory: files by key, with the instant each was delivered and its ETag."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, datetime]] = {}
        self.opened: list[str] = []

    def deliver(self, key: str, data: bytes, at: datetime) -> None:
        self.files[key] = (data, at)

    def delivered(self, tenant_id: str | None = None, *, since: datetime | None = None) -> list[FeedLocation]:
        """Every file (``since`` only lets the real bucket list fewer folders), in key order."""
        prefix = "feeds/" if tenant_id is None else f"feeds/{tenant_id}/"
        objects = (
            {"Key": key, "LastModified": at, "ETag": hashlib.md5(data).hexdigest(), "Size": len(data)}  # noqa: S324
            for key, (data, at) in sorted(self.files.items())
            if key.startswith(prefix)
        )
        return [location for location in map(feed_location, objects) if location is not None]

    def open(self, key: str) -> BytesIO:
        self.opened.append(key)
        return BytesIO(self.files[key][0])
