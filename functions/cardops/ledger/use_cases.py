"""Use cases of the store ledger (SPEC §6): balances, statements, adjustments, payouts, settlements,
and the postings that follow payments (a capture's sale and fee, a lost dispute's chargeback).

Postings that follow from facts are idempotent (entry ids come from their cause). Payouts and batch
settlements are decided from the balance, so they are written conditioned on the entry count that
was read; a concurrent posting makes the write fail, and the decision is taken again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel.backoff import CONFLICTS, Backoff
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.config import settings
from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
from cardops.kernel.observability import make_logger
from cardops.ledger.domain.fees import DEFAULT_PLANS, PlanConfig, PlansConfig
from cardops.ledger.domain.ledger import (
    PROVIDER_CHANNEL,
    AdjustmentReason,
    BalanceSummary,
    Cause,
    Channel,
    Ledger,
    LedgerEntry,
    LedgerTotals,
    adjustment_entry,
    cause_entry_ids,
)
from cardops.ledger.domain.payouts import (
    BatchSettlement,
    OffsetMethod,
    Payout,
    offset_negative_balance,
    payout_entry_ids,
    request_payout,
)
from cardops.ledger.domain.reconciliation import payment_entries
from cardops.ledger.domain.statement import (
    DEFAULT_PAGE,
    MAX_PAGE,
    CursorScope,
    KeyRange,
    Order,
    PageQuery,
    Position,
    running_balances,
    time_key,
)
from cardops.ledger.store import CeilingExceeded as CeilingExceeded
from cardops.ledger.store import DuplicateEntry as DuplicateEntry
from cardops.ledger.store import (
    LedgerStore,
    RefundStore,
    StoredLedger,
    Write,
    entry_writes,
    ledger_pk,
    transact,
)
from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import DebitMemo, FinanceAlert, Refund

logger = make_logger("cardops-ledger")
_T = TypeVar("_T")


def configured_plans() -> PlansConfig:
    """The plans of SPEC §6; ``CARDOPS_PLANS`` (JSON of ``PlansConfig``) overrides the defaults."""
    return _plans(settings().plans_json)


@lru_cache(maxsize=4)
def _plans(raw: str | None) -> PlansConfig:
    return PlansConfig.model_validate(json.loads(raw)) if raw else DEFAULT_PLANS


class Statement(BaseModel):
    """One page of a ledger's entries, with the balance running through them."""

    model_config = ConfigDict(frozen=True)

    summary: BalanceSummary
    entries: tuple[LedgerEntry, ...] = Field(description="oldest first (newest first when ordered so)")
    order: Order = Order.OLDEST_FIRST
    balances: tuple[int, ...] = Field(default=(), description="the balance after each entry, as entries")
    opening_balance: int = Field(default=0, description="before the page's oldest entry")
    closing_balance: int = Field(default=0, description="after the page's newest entry")
    next_cursor: str | None = Field(default=None, description="the next page's cursor; none after the last")


def attributed(entries: Sequence[LedgerEntry], actor: str) -> tuple[LedgerEntry, ...]:
    """The entries of an admin's request, stamped with who made it (the ledger is the audit trail)."""
    return tuple(e.model_copy(update={"recorded_by": actor}) for e in entries)


class Ledgers(Protocol):
    """The ledger's entries and balances (``ledger.store.LedgerStore``; ``tests/fakes/ledger.py``)."""

    def load(self, store_id: str, channel: Channel, currency: str = "JPY") -> StoredLedger: ...

    def ledgers_of(self, store_id: str) -> list[tuple[Channel, str]]: ...

    def post(
        self, entries: Sequence[LedgerEntry], *, expected_counts: dict[str, int] | None = None
    ) -> None: ...

    def post_idempotent(self, entries: Sequence[LedgerEntry]) -> tuple[LedgerEntry, ...]: ...

    def get_entries(self, entries: Sequence[LedgerEntry]) -> tuple[LedgerEntry, ...]: ...

    def entries_page(
        self, store_id: str, channel: Channel, currency: str, page: PageQuery
    ) -> tuple[tuple[LedgerEntry, ...], bool]:
        """The entries of ``page`` (``time_key`` in its range, after its key, in its order) and
        whether more follow. Reads about ``page.limit`` entries however long the ledger is."""
        ...

    def totals(
        self, store_id: str, channel: Channel, currency: str = "JPY", *, entry_ids: Sequence[str] = ()
    ) -> LedgerTotals:
        """The ledger's running totals, with the entries of ``entry_ids`` that exist: O(1) in its length."""
        ...


class LedgerService:
    """Built by ``ledger.wiring.ledger_service``."""

    def __init__(self, store: Ledgers, plans: PlansConfig, backoff: Backoff = CONFLICTS) -> None:
        self.store = store
        self.plans = plans
        self.backoff = backoff

    def balances(self, store_id: str, *, now: datetime) -> list[BalanceSummary]:
        """One summary per ledger the store has (per channel and currency)."""
        today = tokyo_date(now)
        return [
            self.store.totals(store_id, channel, currency).summary(today)
            for channel, currency in self.store.ledgers_of(store_id)
        ]

    def statement(
        self,
        store_id: str,
        channel: Channel,
        currency: str,
        *,
        now: datetime,
        since: date | None = None,
        until: date | None = None,
        limit: int = DEFAULT_PAGE,
        cursor: str | None = None,
        order: Order = Order.OLDEST_FIRST,
    ) -> Statement:
        """One page of entries posted on the Tokyo dates ``since``..``until``: the balance item and
        one page of the time index, never the ledger before the page (``InvalidCursor`` on a
        cursor not issued for this ledger, these dates and this order)."""
        scope = CursorScope(ledger_pk(store_id, channel, currency), since, until, order)
        position = scope.decode(cursor) if cursor is not None else None
        totals = self.store.totals(store_id, channel, currency)
        entries, more = self.store.entries_page(
            store_id,
            channel,
            currency,
            PageQuery(KeyRange.of(since, until), position.key if position else None, limit, order),
        )
        if position is not None:
            start = position.balance
        elif order is Order.OLDEST_FIRST:
            start = totals.balance_posted_before(since) if since else 0
        else:
            start = totals.balance_posted_before(until + timedelta(days=1)) if until else totals.balance
        balances = running_balances(entries, order=order, start=start)
        moved = sum(e.amount for e in entries)
        opening, closing = (start, start + moved) if order is Order.OLDEST_FIRST else (start - moved, start)
        resume = closing if order is Order.OLDEST_FIRST else opening  # the balance where the next page starts
        next_cursor = (
            scope.encode(Position(key=time_key(entries[-1]), balance=resume)) if more and entries else None
        )
        return Statement(
            summary=totals.summary(tokyo_date(now)),
            entries=entries,
            order=order,
            balances=balances,
            opening_balance=opening,
            closing_balance=closing,
            next_cursor=next_cursor,
        )

    def entries_posted(
        self, store_id: str, channel: Channel, currency: str, *, since: date, until: date | None = None
    ) -> Iterator[LedgerEntry]:
        """Every entry posted on ``since``..``until``, oldest first, page by page: reads the window,
        not the ledger before it."""
        keys = KeyRange.of(since, until)
        after: str | None = None
        while True:
            entries, more = self.store.entries_page(
                store_id, channel, currency, PageQuery(keys, after, MAX_PAGE, Order.OLDEST_FIRST)
            )
            yield from entries
            if not more or not entries:
                return
            after = time_key(entries[-1])

    def adjust(
        self,
        store_id: str,
        channel: Channel,
        currency: str,
        *,
        adjustment_id: str,
        amount: int,
        reason: AdjustmentReason,
        memo: str,
        now: datetime,
        actor: str,
    ) -> LedgerEntry:
        """Finance's correction with a reason code; the same ``adjustment_id`` is applied once."""
        entry = adjustment_entry(
            store_id=store_id,
            channel=channel,
            currency=currency,
            adjustment_id=adjustment_id,
            amount=amount,
            reason=reason,
            now=now,
            memo=memo,
        ).model_copy(update={"recorded_by": actor})
        new = self.store.post_idempotent([entry])
        if new:
            return new[0]
        posted = self.store.get_entries([entry])
        return posted[0] if posted else entry

    def preview_payout(
        self, store_id: str, channel: Channel, currency: str, *, request_id: str, now: datetime
    ) -> Payout:
        """What ``request_payout`` would pay now (amount, fee, payout date), posting nothing: the console
        shows it before the store confirms. Refused with the same errors as the request itself."""
        own = payout_entry_ids(store_id, channel, request_id)
        totals = self.store.totals(store_id, channel, currency, entry_ids=own)  # not the ledger
        return request_payout(totals, self.plans.for_channel(channel), request_id=request_id, now=now).payout

    def request_payout(
        self, store_id: str, channel: Channel, currency: str, *, request_id: str, now: datetime, actor: str
    ) -> Payout:
        def decide(totals: LedgerTotals, plan: PlanConfig) -> tuple[Sequence[LedgerEntry], Payout]:
            decision = request_payout(totals, plan, request_id=request_id, now=now)
            return decision.entries, decision.payout

        own = payout_entry_ids(store_id, channel, request_id)
        return self._decide_and_post(
            store_id, channel, currency, decide, entry_ids=own, actor=actor, what="payout"
        )

    def settle(
        self,
        store_id: str,
        channel: Channel,
        currency: str,
        *,
        settlement_id: str,
        now: datetime,
        actor: str,
        method: OffsetMethod = OffsetMethod.SAME_CHANNEL_SETTLEMENT,
        source_channel: Channel | None = None,
    ) -> BatchSettlement:
        """Batch settlement (一括精算): nets pending sales; pays only a positive result. Decided from
        the balance item and the settlement's own entries (a repeat), not the ledger."""

        def decide(totals: LedgerTotals, plan: PlanConfig) -> tuple[Sequence[LedgerEntry], BatchSettlement]:
            result = offset_negative_balance(
                totals,
                plan,
                method=method,
                settlement_id=settlement_id,
                now=now,
                source_channel=source_channel,
            )
            return result.entries, result

        own = payout_entry_ids(store_id, channel, settlement_id)
        return self._decide_and_post(
            store_id, channel, currency, decide, entry_ids=own, actor=actor, what="settlement"
        )

    def _decide_and_post(
        self,
        store_id: str,
        channel: Channel,
        currency: str,
        decide: Callable[[LedgerTotals, PlanConfig], tuple[Sequence[LedgerEntry], _T]],
        *,
        entry_ids: Sequence[str],
        actor: str,
        what: str,
    ) -> _T:
        """Decide on the ledger's totals (with the entries of ``entry_ids``) as stored and post the
        entries only if nobody posted meanwhile; otherwise decide again (a bounded number of times)."""
        plan = self.plans.for_channel(channel)
        for _ in self.backoff.tries():
            totals = self.store.totals(store_id, channel, currency, entry_ids=entry_ids)  # not the ledger
            entries, answer = decide(totals, plan)
            try:
                self.store.post(attributed(entries, actor), expected_counts=self._expected(totals))
            except (VersionConflict, DuplicateEntry):
                continue
            return answer
        raise StoreUnavailable(f"ledger {store_id}/{channel.value} kept changing; retry the {what}")

    @staticmethod
    def _expected(ledger: Ledger | LedgerTotals) -> dict[str, int]:
        return {ledger_pk(ledger.store_id, ledger.channel, ledger.currency): ledger.version}

    def post_payment_facts(self, payment: Payment, *, at: datetime) -> tuple[LedgerEntry, ...]:
        """The ledger side of a payment as it now is: its capture (sale + fee) and lost disputes.

        ``at`` is when the payment last changed: the entries' time when the facts carry none.
        """
        channel = PROVIDER_CHANNEL.get(payment.provider)
        if channel is None:
            return ()
        plan = self.plans.for_channel(channel)
        return self.store.post_idempotent(payment_entries(payment, plan, at=at))


class RefundBook:
    """The money side of refunds, offered to the payments slice: every write is ONE DynamoDB
    transaction of the refund record, the refund ceiling and the ledger entries (and alerts), so the
    sum of refunds never exceeds the capture and the ledger never disagrees with the refunds.

    A failed condition raises ``CeilingExceeded`` (the ceiling refuses the amount),
    ``VersionConflict`` (the refund changed since it was read) or ``DuplicateEntry``.
    """

    def __init__(self, refunds: RefundStore, ledgers: LedgerStore) -> None:
        self.refunds = refunds
        self.ledgers = ledgers

    # -- reads ---------------------------------------------------------------------------------

    def of_payment(self, provider: str, payment_id: str) -> list[Refund]:
        return self.refunds.of_payment(provider, payment_id)

    def get(self, provider: str, payment_id: str, refund_id: str) -> Refund | None:
        return self.refunds.get(provider, payment_id, refund_id)

    def remaining(self, provider: str, payment_id: str) -> int | None:
        return self.refunds.remaining(provider, payment_id)

    def debit_memos(self, provider: str, payment_id: str) -> list[DebitMemo]:
        return self.refunds.debit_memos(provider, payment_id)

    def requested_before(self, cutoff: datetime) -> Iterator[Refund]:
        return self.refunds.requested_before(cutoff)

    def ledger(self, store_id: str, channel: Channel, currency: str, *, cause: Cause) -> Ledger:
        """Only the entries of ``cause`` and their reversals, by key (one ``BatchGetItem``): correcting a
        refund costs the same however long the store's ledger is."""
        pk = ledger_pk(store_id, channel, currency)
        entries = self.ledgers.get_entries_by_id(pk, cause_entry_ids(store_id, channel, cause))
        return Ledger(store_id=store_id, channel=channel, currency=currency, entries=entries)

    # -- writes (one transaction each) ---------------------------------------------------------

    def record_request(self, refund: Refund, entries: Sequence[LedgerEntry], *, captured: int) -> None:
        """A new refund: the refund, the ceiling taken down by its amount, the ledger debited."""
        transact(
            [
                self.refunds.refund_write(refund, expected_version=0),
                self.refunds.ceiling_write(
                    refund.provider, refund.provider_payment_id, captured=captured, delta=-refund.amount
                ),
                *entry_writes(entries),
            ]
        )

    def record_amendment(
        self,
        old: Refund,
        created: Refund,
        entries: Sequence[LedgerEntry],
        *,
        read_version: int,
        captured: int,
    ) -> None:
        """An amount changed before submission: the old refund closed, the new one counted instead."""
        transact(
            [
                self.refunds.refund_write(old, expected_version=read_version),
                self.refunds.refund_write(created, expected_version=0),
                self.refunds.ceiling_write(
                    old.provider,
                    old.provider_payment_id,
                    captured=captured,
                    delta=old.amount - created.amount,
                ),
                *entry_writes(entries),
            ]
        )

    def record_change(
        self,
        read: Refund,
        updated: Refund,
        entries: Sequence[LedgerEntry],
        alerts: Sequence[FinanceAlert],
        *,
        release: int = 0,
    ) -> None:
        """A refund's new version (conditioned on the one read), its entries and alerts; ``release``
        is given back to the ceiling (a refund that stopped counting)."""
        writes: list[Write] = [self.refunds.refund_write(updated, expected_version=read.version)]
        if release:
            writes.append(self.refunds.ceiling_release_write(read, amount=release))
        writes.extend(entry_writes(entries))
        writes.extend(self.refunds.alert_write(a) for a in alerts)
        transact(writes)

    def record_provider_refund(
        self,
        refund: Refund,
        entries: Sequence[LedgerEntry],
        alerts: Sequence[FinanceAlert],
        *,
        captured: int,
        level_read: int,
    ) -> None:
        """A refund made at the provider, under the provider-level condition (see the store)."""
        transact(
            [
                self.refunds.refund_write(refund, expected_version=0),
                self.refunds.provider_refund_ceiling_write(
                    refund.provider,
                    refund.provider_payment_id,
                    captured=captured,
                    amount=refund.amount,
                    level_read=level_read,
                ),
                *entry_writes(entries),
                *(self.refunds.alert_write(a) for a in alerts),
            ]
        )

    def record_debit_memo(self, memo: DebitMemo) -> None:
        transact([self.refunds.debit_memo_write(memo)])
