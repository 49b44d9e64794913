"""Use cases of the store ledger (SPEC §6): balances, statements, adjustments, payouts, settlements,
and the postings that follow payments (a capture's sale and fee, a lost dispute's chargeback).

Postings that follow from facts are idempotent (entry ids come from their cause). Payouts and batch
settlements are decided from the balance, so they are written conditioned on the entry count that
was read; a concurrent posting makes the write fail, and the decision is taken again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel.backoff import CONFLICTS, Backoff
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.config import settings
from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
from cardops.kernel.observability import make_logger
from cardops.ledger.domain.fees import DEFAULT_PLANS, PlansConfig
from cardops.ledger.domain.ledger import (
    PROVIDER_CHANNEL,
    AdjustmentReason,
    BalanceSummary,
    Channel,
    Ledger,
    LedgerEntry,
    LedgerTotals,
    adjustment_entry,
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
from cardops.ledger.store import DuplicateEntry, LedgerStore, ledger_pk
from cardops.payments.domain.changes import Change
from cardops.payments.domain.payments import Payment

logger = make_logger("cardops-ledger")


def configured_plans() -> PlansConfig:
    """The plans of SPEC §6; ``CARDOPS_PLANS`` (JSON of ``PlansConfig``) overrides the defaults."""
    return _plans(settings().plans_json)


@lru_cache(maxsize=4)
def _plans(raw: str | None) -> PlansConfig:
    return PlansConfig.model_validate(json.loads(raw)) if raw else DEFAULT_PLANS


class Statement(BaseModel):
    model_config = ConfigDict(frozen=True)

    summary: BalanceSummary
    entries: tuple[LedgerEntry, ...] = Field(description="oldest first")


def attributed(entries: Sequence[LedgerEntry], actor: str) -> tuple[LedgerEntry, ...]:
    """The entries of an admin's request, stamped with who made it (the ledger is the audit trail)."""
    return tuple(e.model_copy(update={"recorded_by": actor}) for e in entries)


class LedgerService:
    def __init__(
        self, store: LedgerStore | None = None, plans: PlansConfig | None = None, backoff: Backoff = CONFLICTS
    ) -> None:
        self.store = store or LedgerStore()
        self.plans = plans or configured_plans()
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
    ) -> Statement:
        ledger = self.store.load(store_id, channel, currency).ledger
        entries = tuple(
            e
            for e in ledger.entries
            if (since is None or tokyo_date(e.created_at) >= since)
            and (until is None or tokyo_date(e.created_at) <= until)
        )
        return Statement(summary=ledger.summary(tokyo_date(now)), entries=entries)

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

    def request_payout(
        self, store_id: str, channel: Channel, currency: str, *, request_id: str, now: datetime, actor: str
    ) -> Payout:
        plan = self.plans.for_channel(channel)
        own = payout_entry_ids(store_id, channel, request_id)
        for _ in self.backoff.tries():
            totals = self.store.totals(store_id, channel, currency, entry_ids=own)  # not the ledger
            decision = request_payout(totals, plan, request_id=request_id, now=now)
            try:
                self.store.post(attributed(decision.entries, actor), expected_counts=self._expected(totals))
            except (VersionConflict, DuplicateEntry):
                continue
            return decision.payout
        raise StoreUnavailable(f"ledger {store_id}/{channel.value} kept changing; retry the payout")

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
        """Batch settlement (一括精算): nets pending sales; pays only a positive result."""
        plan = self.plans.for_channel(channel)
        for _ in self.backoff.tries():
            stored = self.store.load(store_id, channel, currency)
            result = offset_negative_balance(
                stored.ledger,
                plan,
                method=method,
                settlement_id=settlement_id,
                now=now,
                source_channel=source_channel,
            )
            try:
                self.store.post(
                    attributed(result.entries, actor), expected_counts=self._expected(stored.ledger)
                )
            except (VersionConflict, DuplicateEntry):
                continue
            return result
        raise StoreUnavailable(f"ledger {store_id}/{channel.value} kept changing; retry the settlement")

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


def ledger_listener(change: Change) -> None:
    """Change-feed listener (``payments.use_cases.listeners``): post what the change means for its store."""
    new = LedgerService().post_payment_facts(change.new, at=change.at)
    if new:
        logger.info(
            "ledger posted",
            provider=change.new.provider,
            payment_id=change.new.provider_payment_id,
            entries=[e.kind.value for e in new],
        )
