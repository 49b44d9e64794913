"""Fakes of the ledger slice's ports: ``Ledgers`` (``ledger.store.LedgerStore``) and the
``RefundBook`` the payments slice writes refunds through (``ledger.use_cases.RefundBook``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
from cardops.ledger.domain.ledger import Cause, Channel, Ledger, LedgerEntry, LedgerTotals
from cardops.ledger.domain.statement import Order, PageQuery, time_key
from cardops.ledger.store import CeilingExceeded, DuplicateEntry, StoredLedger, ledger_pk
from cardops.payments.domain.refunds import DebitMemo, FinanceAlert, Refund, RefundStatus


class FakeLedgers:
    """Ledgers in memory: entries posted once (``DuplicateEntry``), a posting conditioned on the
    entry count read (``VersionConflict``), all of a posting or none of it."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, LedgerEntry]] = {}
        self.posts = 0
        #: entries the statement pages read (what a page costs, as DynamoDB would count it)
        self.items_read = 0

    def load(self, store_id: str, channel: Channel, currency: str = "JPY") -> StoredLedger:
        entries = sorted(
            self.entries.get(ledger_pk(store_id, channel, currency), {}).values(),
            key=lambda e: (e.created_at, e.entry_id),
        )
        ledger = Ledger(store_id=store_id, channel=channel, currency=currency, entries=tuple(entries))
        return StoredLedger(ledger=ledger, stored_balance=ledger.balance)

    def totals(
        self, store_id: str, channel: Channel, currency: str = "JPY", *, entry_ids: Sequence[str] = ()
    ) -> LedgerTotals:
        ledger = self.load(store_id, channel, currency).ledger
        wanted = set(entry_ids)
        own = tuple(entry for entry in ledger.entries if entry.entry_id in wanted)
        return LedgerTotals.of(ledger).model_copy(update={"entries": own})

    def entries_page(
        self, store_id: str, channel: Channel, currency: str, page: PageQuery
    ) -> tuple[tuple[LedgerEntry, ...], bool]:
        """As the time index answers: keys in range, strictly after ``after`` in ``order``."""
        keys, after, limit, order = page.keys, page.after, page.limit, page.order
        newest_first = order is Order.NEWEST_FIRST
        keyed = sorted(
            ((time_key(e), e) for e in self.entries.get(ledger_pk(store_id, channel, currency), {}).values()),
            key=lambda pair: pair[0],
            reverse=newest_first,
        )
        following = [
            entry
            for key, entry in keyed
            if key in keys and (after is None or (key < after if newest_first else key > after))
        ]
        self.items_read += min(len(following), limit + 1)
        return tuple(following[:limit]), len(following) > limit

    def ledgers_of(self, store_id: str) -> list[tuple[Channel, str]]:
        return sorted(
            {
                (e.channel, e.currency)
                for posted in self.entries.values()
                for e in posted.values()
                if e.store_id == store_id
            }
        )

    def check(self, entries: Sequence[LedgerEntry], *, expected_counts: dict[str, int] | None = None) -> None:
        """Raise what the real transaction's conditions would, writing nothing."""
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            pk = ledger_pk(entry.store_id, entry.channel, entry.currency)
            if entry.entry_id in self.entries.get(pk, {}) or (pk, entry.entry_id) in seen:
                raise DuplicateEntry(entry.entry_id)
            seen.add((pk, entry.entry_id))
        for pk, expected in (expected_counts or {}).items():
            if pk in {p for p, _ in seen} and len(self.entries.get(pk, {})) != expected:
                raise VersionConflict(pk)

    def apply(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            self.entries.setdefault(ledger_pk(entry.store_id, entry.channel, entry.currency), {})[
                entry.entry_id
            ] = entry

    def post(self, entries: Sequence[LedgerEntry], *, expected_counts: dict[str, int] | None = None) -> None:
        if entries:
            self.check(entries, expected_counts=expected_counts)
            self.apply(entries)
            self.posts += 1

    def post_idempotent(self, entries: Sequence[LedgerEntry]) -> tuple[LedgerEntry, ...]:
        if not entries:
            return ()
        first = entries[0]
        posted = self.get_entries(entries)
        known = Ledger(
            store_id=first.store_id, channel=first.channel, currency=first.currency, entries=posted
        )
        new = known.post(entries).new_entries
        self.post(new)
        return new

    def get_entries(self, entries: Sequence[LedgerEntry]) -> tuple[LedgerEntry, ...]:
        found = {
            (pk, e.entry_id): self.entries[pk][e.entry_id]
            for e in entries
            if e.entry_id in self.entries.get(pk := ledger_pk(e.store_id, e.channel, e.currency), {})
        }
        return tuple(sorted(found.values(), key=lambda e: (e.created_at, e.entry_id)))


@dataclass
class _Ceiling:
    remaining: int
    captured: int
    provider_refunded: int = 0


class FakeRefundBook:
    """Refunds, their ceiling, debit memos and finance alerts in memory, posting to ``ledgers``:
    every ``record_*`` checks all its conditions first and then writes all of it (one transaction)."""

    def __init__(self, ledgers: FakeLedgers | None = None) -> None:
        self.ledgers = ledgers or FakeLedgers()
        self.refunds: dict[tuple[str, str], dict[str, Refund]] = {}
        self.ceilings: dict[tuple[str, str], _Ceiling] = {}
        self.memos: dict[tuple[str, str], dict[str, DebitMemo]] = {}
        self.alerts: dict[str, FinanceAlert] = {}

    # -- reads ---------------------------------------------------------------------------------

    def of_payment(self, provider: str, payment_id: str) -> list[Refund]:
        return sorted(
            self.refunds.get((provider, payment_id), {}).values(), key=lambda r: (r.created_at, r.refund_id)
        )

    def get(self, provider: str, payment_id: str, refund_id: str) -> Refund | None:
        return self.refunds.get((provider, payment_id), {}).get(refund_id)

    def remaining(self, provider: str, payment_id: str) -> int | None:
        ceiling = self.ceilings.get((provider, payment_id))
        return ceiling.remaining if ceiling else None

    def debit_memos(self, provider: str, payment_id: str) -> list[DebitMemo]:
        return list(self.memos.get((provider, payment_id), {}).values())

    def requested_before(self, cutoff: datetime) -> Iterator[Refund]:
        stuck = [
            r
            for refunds in self.refunds.values()
            for r in refunds.values()
            if r.status is RefundStatus.REQUESTED and r.created_at < cutoff
        ]
        return iter(sorted(stuck, key=lambda r: (r.created_at, r.refund_id)))

    def ledger(self, store_id: str, channel: Channel, currency: str, *, cause: Cause) -> Ledger:
        whole = self.ledgers.load(store_id, channel, currency).ledger
        return whole.model_copy(update={"entries": tuple(e for e in whole.entries if e.cause == cause)})

    # -- conditions (what DynamoDB checks in the real transaction) -----------------------------

    def _check_refund(self, refund: Refund, *, expected_version: int) -> None:
        stored = self.get(refund.provider, refund.provider_payment_id, refund.refund_id)
        if (stored is None) != (expected_version == 0) or (stored and stored.version != expected_version):
            raise VersionConflict(refund.refund_id)

    def _ceiling_after(self, provider: str, payment_id: str, *, captured: int, delta: int) -> _Ceiling:
        current = self.ceilings.get((provider, payment_id))
        ceiling = (
            _Ceiling(current.remaining, current.captured, current.provider_refunded) if current else None
        )
        start = ceiling or _Ceiling(remaining=captured, captured=captured)
        if delta < 0 and start.remaining < -delta:
            raise CeilingExceeded(current.remaining if current else None)
        start.remaining += delta
        return start

    def _check_alerts(self, alerts: Sequence[FinanceAlert]) -> None:
        for alert in alerts:
            if alert.alert_id in self.alerts:
                raise DuplicateEntry(alert.alert_id)

    def _write(
        self, refunds: Sequence[Refund], entries: Sequence[LedgerEntry], alerts: Sequence[FinanceAlert]
    ) -> None:
        for refund in refunds:
            self.refunds.setdefault((refund.provider, refund.provider_payment_id), {})[refund.refund_id] = (
                refund
            )
        self.ledgers.apply(entries)
        self.alerts.update({a.alert_id: a for a in alerts})

    # -- writes --------------------------------------------------------------------------------

    def record_request(self, refund: Refund, entries: Sequence[LedgerEntry], *, captured: int) -> None:
        key = (refund.provider, refund.provider_payment_id)
        self._check_refund(refund, expected_version=0)
        ceiling = self._ceiling_after(*key, captured=captured, delta=-refund.amount)
        self.ledgers.check(entries)
        self.ceilings[key] = ceiling
        self._write([refund], entries, ())

    def record_amendment(
        self,
        old: Refund,
        created: Refund,
        entries: Sequence[LedgerEntry],
        *,
        read_version: int,
        captured: int,
    ) -> None:
        key = (old.provider, old.provider_payment_id)
        self._check_refund(old, expected_version=read_version)
        self._check_refund(created, expected_version=0)
        ceiling = self._ceiling_after(*key, captured=captured, delta=old.amount - created.amount)
        self.ledgers.check(entries)
        self.ceilings[key] = ceiling
        self._write([old, created], entries, ())

    def record_change(
        self,
        read: Refund,
        updated: Refund,
        entries: Sequence[LedgerEntry],
        alerts: Sequence[FinanceAlert],
        *,
        release: int = 0,
    ) -> None:
        key = (read.provider, read.provider_payment_id)
        self._check_refund(updated, expected_version=read.version)
        if release and key not in self.ceilings:
            raise StoreUnavailable(f"refund ceiling of {read.refund_id} is missing")
        self.ledgers.check(entries)
        self._check_alerts(alerts)
        if release:
            self.ceilings[key].remaining += release
        self._write([updated], entries, alerts)

    def record_provider_refund(
        self,
        refund: Refund,
        entries: Sequence[LedgerEntry],
        alerts: Sequence[FinanceAlert],
        *,
        captured: int,
        level_read: int,
    ) -> None:
        key = (refund.provider, refund.provider_payment_id)
        self._check_refund(refund, expected_version=0)
        current = self.ceilings.get(key)
        if (current.provider_refunded if current else 0) != level_read:
            raise VersionConflict(f"{refund.provider_payment_id} ceiling")
        try:
            ceiling = self._ceiling_after(*key, captured=captured, delta=-refund.amount)
        except CeilingExceeded:
            raise VersionConflict(f"{refund.provider_payment_id} ceiling") from None
        ceiling.provider_refunded = level_read + refund.amount
        self.ledgers.check(entries)
        self._check_alerts(alerts)
        self.ceilings[key] = ceiling
        self._write([refund], entries, alerts)

    def record_debit_memo(self, memo: DebitMemo) -> None:
        memos = self.memos.setdefault((memo.provider, memo.provider_payment_id), {})
        if memo.memo_id in memos:
            raise VersionConflict(memo.memo_id)
        memos[memo.memo_id] = memo
