"""Ledger builders the ledger tests share: a captured sale (``capture_entries``' eight keywords with
the tests' usual store, channel and provider), and a ledger with entries posted."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from cardops.ledger.domain.fees import STANDARD_PLAN, PlanConfig, capture_entries
from cardops.ledger.domain.ledger import Channel, Ledger, LedgerEntry


def sale(
    amount: int,
    *,
    captured_at: datetime,
    payment_id: str = "ch_1",
    store_id: str = "s1",
    channel: Channel = Channel.STANDARD,
    provider: str = "payjp",
    plan: PlanConfig = STANDARD_PLAN,
    confirmed_on: date | None = None,
) -> tuple[LedgerEntry, ...]:
    """The sale and fee of a payment in yen (PAY.JP unless said) captured at ``captured_at``."""
    return capture_entries(
        store_id=store_id,
        channel=channel,
        currency="JPY",
        provider=provider,
        provider_payment_id=payment_id,
        amount=amount,
        plan=plan,
        captured_at=captured_at,
        confirmed_on=confirmed_on,
    )


def ledger_of(
    entries: Iterable[LedgerEntry], *, store_id: str = "s1", channel: Channel = Channel.STANDARD
) -> Ledger:
    """A fresh ledger with ``entries`` posted."""
    return Ledger(store_id=store_id, channel=channel).post(tuple(entries)).ledger
