"""Payouts (振込申請) and negative balances (SPEC §6; the negative-balance article, seed 003).

Payout date: a request made up to the end of a month (Asia/Tokyo) is paid on the 15th of the next
month, moved to the next bank business day when the 15th is a weekend, a public holiday or a bank
holiday (Dec 31 – Jan 3, from the ``holidays`` library via ``calendar``).

A requested payout pays the whole confirmed balance (confirmed sales net of their fees and of every
debit): the transfer fee is taken from it and the rest transferred. It is refused while the balance
— or its confirmed part, since pending sales do not count until confirmed — is negative (the error
states the shortfall), and unless the confirmed balance exceeds the plan's minimum. Nothing ever
lapses: confirmed sales that are not requested simply stay in the balance for a later request.

Negative balances are offset only through the same payment channel: new sales, or a batch
settlement (一括精算) that nets the pending (not yet confirmed) sales against the shortfall. A
bank transfer, or money from another channel, is refused with a named error. When the netted result
is still not positive nothing is paid (no payout, no virtual card) and the rest carries forward —
there is nothing to write, because the balance is the sum of the entries and already carries it.

Channels whose provider pays on a contract schedule (SBPS, the extended plan) never compute a
payout: ``record_provider_payout`` records what the provider reports.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel.calendar import on_or_after_bank_business_day, tokyo_date
from cardops.ledger.domain.fees import PayoutMode, PlanConfig, require_plan_currency
from cardops.ledger.domain.ledger import (
    Cause,
    CauseKind,
    Channel,
    EntryKind,
    Ledger,
    LedgerEntry,
    LedgerTotals,
    entry_id_for,
    make_entry,
)

PAYOUT_DAY = 15


def payout_date(requested_on: date) -> date:
    """The day a payout requested on ``requested_on`` (an Asia/Tokyo date) is paid."""
    year, month = (
        (requested_on.year + 1, 1)
        if requested_on.month == 12
        else (requested_on.year, requested_on.month + 1)
    )
    return on_or_after_bank_business_day(date(year, month, PAYOUT_DAY))


def payout_date_at(requested_at: datetime) -> date:
    """The payout date for a request made at an aware instant (the month ends in Tokyo)."""
    return payout_date(tokyo_date(requested_at))


class PayoutError(ValueError):
    """A payout or settlement rule was broken; subclasses name which."""


class NegativeBalanceError(PayoutError):
    def __init__(self, *, balance: int, currency: str) -> None:
        self.balance = balance
        self.shortfall = -balance
        self.currency = currency
        super().__init__(
            f"the balance is negative ({balance} {currency}): settlement and payouts are refused until "
            f"the shortfall of {self.shortfall} {currency} is offset through the same payment channel"
        )


class BelowPayoutMinimumError(PayoutError):
    def __init__(self, *, confirmed: int, minimum: int, currency: str) -> None:
        self.confirmed = confirmed
        self.minimum = minimum
        self.currency = currency
        super().__init__(
            f"confirmed sales of {confirmed} {currency} do not exceed the payout minimum of {minimum} "
            f"{currency}; they are kept for a later request"
        )


class PayoutByProviderScheduleError(PayoutError):
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        super().__init__(
            f"payouts of the {channel.value} channel are made by the provider on the contract schedule; "
            "they are recorded, not requested"
        )


class NotProviderScheduledError(PayoutError):
    """Only a provider-scheduled channel has provider payouts to record."""


class BankTransferOffsetRefusedError(PayoutError):
    def __init__(self, *, shortfall: int, channel: Channel, currency: str) -> None:
        self.shortfall = shortfall
        self.channel = channel
        super().__init__(
            f"a negative balance cannot be paid off by bank transfer; offset the shortfall of {shortfall} "
            f"{currency} through the {channel.value} channel (new sales or a batch settlement)"
        )


class CrossChannelOffsetRefusedError(PayoutError):
    def __init__(self, *, shortfall: int, channel: Channel, source: Channel | None, currency: str) -> None:
        self.shortfall = shortfall
        self.channel = channel
        self.source = source
        origin = source.value if source else "another channel"
        super().__init__(
            f"the shortfall of {shortfall} {currency} on the {channel.value} channel cannot be offset "
            f"from {origin}; only the same payment channel can offset it"
        )


class Payout(BaseModel):
    """A payout as the store sees it: what was taken from the balance and what reaches its bank."""

    model_config = ConfigDict(frozen=True)

    payout_id: str
    store_id: str
    channel: Channel
    currency: str
    gross: int = Field(gt=0)
    transfer_fee: int = Field(ge=0)
    net: int = Field(gt=0)
    requested_on: date
    scheduled_for: date
    source: Literal["request", "batch_settlement", "provider_schedule"]


class PayoutDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    payout: Payout
    entries: tuple[LedgerEntry, ...]


def payout_entry_ids(store_id: str, channel: Channel, payout_id: str) -> tuple[str, str]:
    """The ids a payout's entries get: what a repeated request looks up instead of the ledger."""
    cause = Cause(kind=CauseKind.PAYOUT, id=payout_id)
    return (
        entry_id_for(store_id, channel, EntryKind.PAYOUT, cause),
        entry_id_for(store_id, channel, EntryKind.TRANSFER_FEE, cause),
    )


def request_payout(
    ledger: Ledger | LedgerTotals, plan: PlanConfig, *, request_id: str, now: datetime
) -> PayoutDecision:
    """The store's payout request: pays the whole confirmed balance, less the transfer fee.

    Repeating a request id returns the payout already decided for it, with no new entries. The
    ledger may be its totals with the entries of ``payout_entry_ids`` (all this needs).
    """
    existing = _existing_payout(ledger, request_id, source="request")
    if existing is not None:
        return PayoutDecision(payout=existing, entries=())
    if plan.payout_mode is PayoutMode.PROVIDER_SCHEDULE:
        raise PayoutByProviderScheduleError(ledger.channel)
    require_plan_currency(plan, ledger.currency)
    # Pending sales do not cover a confirmed shortfall until they are confirmed or batch-settled.
    confirmed = min(ledger.confirmed_balance(tokyo_date(now)), ledger.balance)
    if confirmed < 0:
        raise NegativeBalanceError(balance=confirmed, currency=ledger.currency)
    minimum = max(plan.payout_minimum_exclusive, plan.transfer_fee)
    if confirmed <= minimum:
        raise BelowPayoutMinimumError(confirmed=confirmed, minimum=minimum, currency=ledger.currency)
    return _pay(ledger, plan, gross=confirmed, payout_id=request_id, source="request", now=now)


class OffsetMethod(StrEnum):
    """How someone proposes to cover a negative balance."""

    SAME_CHANNEL_SETTLEMENT = "same_channel_settlement"  # batch settlement in the same channel
    BANK_TRANSFER = "bank_transfer"  # the store wires the shortfall: refused (seed 003)
    OTHER_CHANNEL = "other_channel"  # money from another channel's balance: refused


class SettlementOutcome(StrEnum):
    PAID = "paid"
    SCHEDULED_BY_PROVIDER = "scheduled_by_provider"
    CARRIED_FORWARD = "carried_forward"


class BatchSettlement(BaseModel):
    """A batch settlement's result: what was netted and whether anything is paid."""

    model_config = ConfigDict(frozen=True)

    settlement_id: str
    store_id: str
    channel: Channel
    currency: str
    confirmed: int
    pending_netted: int
    net: int
    outcome: SettlementOutcome
    carried_forward: int
    payout: Payout | None = None
    entries: tuple[LedgerEntry, ...] = ()
    explanation: str


def settle_batch(
    ledger: Ledger | LedgerTotals, plan: PlanConfig, *, settlement_id: str, now: datetime
) -> BatchSettlement:
    """Net the pending sales against the confirmed balance (negative or not) and pay a positive
    result under the channel's payout rules; otherwise pay nothing and carry the rest forward.

    As ``request_payout``, the ledger may be its totals with the entries of ``payout_entry_ids``."""
    require_plan_currency(plan, ledger.currency)
    today = tokyo_date(now)
    confirmed = ledger.confirmed_balance(today)
    pending = ledger.pending_balance(today)
    net = confirmed + pending
    cur = ledger.currency

    def result(
        outcome: SettlementOutcome, explanation: str, decision: PayoutDecision | None = None
    ) -> BatchSettlement:
        return BatchSettlement(
            settlement_id=settlement_id,
            store_id=ledger.store_id,
            channel=ledger.channel,
            currency=cur,
            confirmed=confirmed,
            pending_netted=pending,
            net=net,
            outcome=outcome,
            carried_forward=0 if outcome is SettlementOutcome.PAID else net,
            payout=decision.payout if decision else None,
            entries=decision.entries if decision else (),
            explanation=explanation,
        )

    existing = _existing_payout(ledger, settlement_id, source="batch_settlement")
    if existing is not None:
        return result(SettlementOutcome.PAID, "already settled", PayoutDecision(payout=existing, entries=()))
    if net <= 0:
        return result(
            SettlementOutcome.CARRIED_FORWARD,
            f"after netting {pending} {cur} of pending sales the balance is {net} {cur}: "
            "nothing is paid (no payout, no virtual card) and it carries forward",
        )
    if plan.payout_mode is PayoutMode.PROVIDER_SCHEDULE:
        return result(
            SettlementOutcome.SCHEDULED_BY_PROVIDER,
            f"{net} {cur} is paid by the provider on the contract schedule",
        )
    minimum = max(plan.payout_minimum_exclusive, plan.transfer_fee)
    if net <= minimum:
        return result(
            SettlementOutcome.CARRIED_FORWARD,
            f"{net} {cur} does not exceed the payout minimum of {minimum} {cur}; it carries forward",
        )
    decision = _pay(ledger, plan, gross=net, payout_id=settlement_id, source="batch_settlement", now=now)
    return result(
        SettlementOutcome.PAID,
        f"{net} {cur} paid, less a transfer fee of {decision.payout.transfer_fee} {cur}",
        decision,
    )


def offset_negative_balance(
    ledger: Ledger | LedgerTotals,
    plan: PlanConfig,
    *,
    method: OffsetMethod,
    settlement_id: str,
    now: datetime,
    source_channel: Channel | None = None,
) -> BatchSettlement:
    """Cover a shortfall: only a batch settlement in the ledger's own channel is accepted."""
    shortfall = max(-ledger.balance, 0)
    if method is OffsetMethod.BANK_TRANSFER:
        raise BankTransferOffsetRefusedError(
            shortfall=shortfall, channel=ledger.channel, currency=ledger.currency
        )
    if method is OffsetMethod.OTHER_CHANNEL or (
        source_channel is not None and source_channel != ledger.channel
    ):
        raise CrossChannelOffsetRefusedError(
            shortfall=shortfall, channel=ledger.channel, source=source_channel, currency=ledger.currency
        )
    return settle_batch(ledger, plan, settlement_id=settlement_id, now=now)


def record_provider_payout(
    ledger: Ledger, plan: PlanConfig, *, provider_payout_id: str, amount: int, paid_on: date, now: datetime
) -> PayoutDecision:
    """Record a payout the provider made on its contract schedule (SBPS); no transfer fee."""
    if plan.payout_mode is not PayoutMode.PROVIDER_SCHEDULE:
        raise NotProviderScheduledError(
            f"the {ledger.channel.value} channel pays on request; use request_payout"
        )
    if amount <= 0:
        raise PayoutError("a recorded payout amount is positive")
    cause = Cause(kind=CauseKind.PROVIDER_PAYOUT, id=provider_payout_id)
    entry = make_entry(
        store_id=ledger.store_id,
        channel=ledger.channel,
        currency=ledger.currency,
        kind=EntryKind.PAYOUT,
        amount=-amount,
        cause=cause,
        now=now,
        memo=f"paid by the provider on {paid_on.isoformat()}",
    )
    payout = Payout(
        payout_id=provider_payout_id,
        store_id=ledger.store_id,
        channel=ledger.channel,
        currency=ledger.currency,
        gross=amount,
        transfer_fee=0,
        net=amount,
        requested_on=paid_on,
        scheduled_for=paid_on,
        source="provider_schedule",
    )
    posted = ledger.get(entry.entry_id)
    return PayoutDecision(payout=payout, entries=() if posted is not None else (entry,))


def _pay(
    ledger: Ledger | LedgerTotals,
    plan: PlanConfig,
    *,
    gross: int,
    payout_id: str,
    source: Literal["request", "batch_settlement"],
    now: datetime,
) -> PayoutDecision:
    cause = Cause(kind=CauseKind.PAYOUT, id=payout_id)

    def entry(kind: EntryKind, amount: int) -> LedgerEntry:
        return make_entry(
            store_id=ledger.store_id,
            channel=ledger.channel,
            currency=ledger.currency,
            kind=kind,
            amount=amount,
            cause=cause,
            now=now,
        )

    fee = plan.transfer_fee
    entries = (entry(EntryKind.PAYOUT, -(gross - fee)),) + (
        (entry(EntryKind.TRANSFER_FEE, -fee),) if fee else ()
    )
    requested_on = tokyo_date(now)
    payout = Payout(
        payout_id=payout_id,
        store_id=ledger.store_id,
        channel=ledger.channel,
        currency=ledger.currency,
        gross=gross,
        transfer_fee=fee,
        net=gross - fee,
        requested_on=requested_on,
        scheduled_for=payout_date(requested_on),
        source=source,
    )
    return PayoutDecision(payout=payout, entries=entries)


def _existing_payout(
    ledger: Ledger | LedgerTotals, payout_id: str, *, source: Literal["request", "batch_settlement"]
) -> Payout | None:
    """The payout already posted under ``payout_id``, rebuilt from its entries (a retried request)."""
    cause = Cause(kind=CauseKind.PAYOUT, id=payout_id)
    mine = [e for e in ledger.entries if e.cause == cause]
    paid = next((e for e in mine if e.kind is EntryKind.PAYOUT), None)
    if paid is None:
        return None
    fee = -sum(e.amount for e in mine if e.kind is EntryKind.TRANSFER_FEE)
    requested_on = tokyo_date(paid.created_at)
    return Payout(
        payout_id=payout_id,
        store_id=ledger.store_id,
        channel=ledger.channel,
        currency=ledger.currency,
        gross=-paid.amount + fee,
        transfer_fee=fee,
        net=-paid.amount,
        requested_on=requested_on,
        scheduled_for=payout_date(requested_on),
        source=source,
    )
