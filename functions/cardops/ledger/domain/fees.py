"""Plans and fees of SPEC §6, and the ledger entries they produce.

Defaults (all configuration, see ``PlanConfig``):

- standard (PAY.JP): fee 4.7 % of each captured amount; ¥500 transfer fee taken from each payout;
  a payout may be requested only when confirmed sales exceed ¥5,000.
- extended (SBPS): fee 4.0 %; no transfer fee; ¥3,000 monthly fee taken from the month's sales;
  payouts are made by SBPS on the store's contract schedule (recorded, not computed).
- stripe: the spec names no terms, so it starts with the standard plan's; configure it per contract.

Rounding rule: the percentage fee is computed per captured amount and rounded **down** to a whole
minor unit (切り捨て) by default, so the store is never charged more than the rate; ¥1,001 at 4.7 %
is ¥47.047, a fee of ¥47 (``half_up`` would give the same; ¥1,010 gives ¥47.47 → ¥47 either way,
¥1,012 gives ¥47.564 → ¥47 down, ¥48 half-up). The rounding mode is per plan.

Refunds and the fee: by default the fee on a refunded sale is **not** returned (the usual practice
of Japanese card acquirers and PAY.JP's terms). With ``refund_returns_fee`` the fee on the refunded
part is returned, computed on the refunded amount with the plan's rounding.

The monthly fee is owed by contract: it is posted in full even in a month whose sales do not cover
it; the balance may then go negative and the negative-balance rules of ``payouts`` apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel.calendar import tokyo_date
from cardops.kernel.money import CurrencyError, RoundingMode, normalize_currency, percent_of
from cardops.ledger.domain.ledger import Cause, CauseKind, Channel, EntryKind, LedgerEntry, make_entry


class PayoutMode(StrEnum):
    """Who decides when a channel pays out."""

    ON_REQUEST = "on_request"  # the store requests a payout (振込申請); we compute its date
    PROVIDER_SCHEDULE = "provider_schedule"  # the provider pays by contract; we record what it paid


class PlanConfig(BaseModel):
    """The money terms of one channel's plan. Fixed amounts are in ``currency``'s minor unit."""

    model_config = ConfigDict(frozen=True)

    fee_rate_percent: Decimal = Field(ge=0, le=100)
    fee_rounding: RoundingMode = "down"
    refund_returns_fee: bool = False
    currency: str = "JPY"
    transfer_fee: int = Field(default=0, ge=0)
    payout_minimum_exclusive: int = Field(default=0, ge=0)
    monthly_fee: int = Field(default=0, ge=0)
    payout_mode: PayoutMode = PayoutMode.ON_REQUEST
    #: days after the capture (Tokyo date) before a sale counts as confirmed; 0 = on capture day
    confirmation_delay_days: int = Field(default=0, ge=0)

    def fee_for(self, amount: int) -> int:
        """The plan's fee on one captured (or refunded) amount, rounded by the plan's rule."""
        return percent_of(amount, self.fee_rate_percent, self.fee_rounding)


STANDARD_PLAN = PlanConfig(fee_rate_percent=Decimal("4.7"), transfer_fee=500, payout_minimum_exclusive=5000)
EXTENDED_PLAN = PlanConfig(
    fee_rate_percent=Decimal("4.0"), monthly_fee=3000, payout_mode=PayoutMode.PROVIDER_SCHEDULE
)
STRIPE_PLAN = STANDARD_PLAN


class PlansConfig(BaseModel):
    """One plan per channel; a store's contract overrides are a different ``PlansConfig``."""

    model_config = ConfigDict(frozen=True)

    standard: PlanConfig = STANDARD_PLAN
    extended: PlanConfig = EXTENDED_PLAN
    stripe: PlanConfig = STRIPE_PLAN

    def for_channel(self, channel: Channel) -> PlanConfig:
        plans: Mapping[Channel, PlanConfig] = {
            Channel.STANDARD: self.standard,
            Channel.EXTENDED: self.extended,
            Channel.STRIPE: self.stripe,
        }
        return plans[channel]


DEFAULT_PLANS = PlansConfig()


def capture_entries(
    *,
    store_id: str,
    channel: Channel,
    currency: str,
    provider: str,
    provider_payment_id: str,
    amount: int,
    plan: PlanConfig,
    captured_at: datetime,
    confirmed_on: date | None = None,
) -> tuple[LedgerEntry, ...]:
    """The sale and its fee for one captured payment (a payment is captured once, SPEC §2).

    Both become confirmed on ``confirmed_on`` (default: the Tokyo capture date plus the plan's
    confirmation delay), so the pending balance is always a sale net of its own fee.
    """
    if amount <= 0:
        raise ValueError("a captured amount is positive")
    effective = confirmed_on or tokyo_date(captured_at) + timedelta(days=plan.confirmation_delay_days)
    cause = Cause(kind=CauseKind.CAPTURE, id=f"{provider}/{provider_payment_id}")

    def entry(kind: EntryKind, signed: int) -> LedgerEntry:
        return make_entry(
            store_id=store_id,
            channel=channel,
            currency=currency,
            kind=kind,
            amount=signed,
            cause=cause,
            now=captured_at,
            effective_on=effective,
        )

    fee = plan.fee_for(amount)
    return (
        (entry(EntryKind.SALE, amount), entry(EntryKind.FEE, -fee))
        if fee
        else (entry(EntryKind.SALE, amount),)
    )


def refund_entries(
    *,
    store_id: str,
    channel: Channel,
    currency: str,
    refund_id: str,
    amount: int,
    plan: PlanConfig,
    now: datetime,
) -> tuple[LedgerEntry, ...]:
    """The refund debit, plus the returned fee when the plan returns fees on refunds."""
    if amount <= 0:
        raise ValueError("a refunded amount is positive")
    cause = Cause(kind=CauseKind.REFUND, id=refund_id)

    def entry(kind: EntryKind, signed: int, memo: str = "") -> LedgerEntry:
        return make_entry(
            store_id=store_id,
            channel=channel,
            currency=currency,
            kind=kind,
            amount=signed,
            cause=cause,
            now=now,
            memo=memo,
        )

    refund = entry(EntryKind.REFUND, -amount)
    returned = plan.fee_for(amount) if plan.refund_returns_fee else 0
    return (refund, entry(EntryKind.FEE, returned, "fee returned on refund")) if returned else (refund,)


def monthly_fee_entry(
    *, store_id: str, channel: Channel, year: int, month: int, plan: PlanConfig, now: datetime
) -> LedgerEntry | None:
    """The month's fixed fee (``None`` when the plan has none); one per store, channel and month."""
    if not 1 <= month <= 12:
        raise ValueError("month is 1–12")
    if plan.monthly_fee == 0:
        return None
    return make_entry(
        store_id=store_id,
        channel=channel,
        currency=_plan_currency(plan),
        kind=EntryKind.MONTHLY_FEE,
        amount=-plan.monthly_fee,
        cause=Cause(kind=CauseKind.MONTHLY_FEE, id=f"{year:04d}-{month:02d}"),
        now=now,
    )


def _plan_currency(plan: PlanConfig) -> str:
    return normalize_currency(plan.currency)


def require_plan_currency(plan: PlanConfig, currency: str) -> None:
    """Fixed fees and minimums are in the plan's currency; other ledgers need their own plan."""
    if normalize_currency(currency) != _plan_currency(plan):
        raise CurrencyError(f"plan amounts are in {plan.currency}, ledger is in {currency}")
