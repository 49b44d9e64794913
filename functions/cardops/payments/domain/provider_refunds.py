"""Refunds made at the provider that cardops did not request (issue 11 item 3) — pure rules.

A refund made in the PAY.JP or Stripe dashboard or the SBPS console shows on the payment's facts
(``facts.refunded_amount`` is what the provider says has been refunded). Every refund record that
counts against the capture explains part of it: one cardops requested — even one still
``requested``, whose provider call may have gone through before its write failed — and one already
recorded from the provider. What is left unexplained was refunded at the provider and becomes one
refund record with ``source = "provider"``: it takes its amount off the refund ceiling, debits the
store's ledger and alerts finance, like any refund.

Identity: PAY.JP and Stripe webhooks report a running total, not a refund id, so a provider refund
is named by where it sits in that total: its *level*, the provider-made refunds recorded before it
plus itself. A duplicate or replayed event computes the same level (the same id: the conditional put
writes it once); an older, out-of-order event's smaller total explains nothing new (totals only grow
when facts merge); and a concurrent run that read another total is stopped by the level condition
persistence puts on the refund ceiling, re-reads, and finds the rest (or nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from cardops.ledger.domain.fees import PlanConfig, refund_entries
from cardops.ledger.domain.ledger import PROVIDER_CHANNEL
from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import (
    FinanceAlert,
    Refund,
    RefundChange,
    RefundReason,
    RefundSource,
    RefundStatus,
    RefundTransition,
    refunds_counted,
)


def unexplained_refund(payment: Payment, refunds: Sequence[Refund]) -> int:
    """What the provider refunded beyond every refund record that explains it (never negative).

    A cardops refund the card company rejected after it had succeeded also explains its amount: the
    provider may well keep reporting it as refunded, and taking it for a dashboard refund would
    debit the store twice. (If the provider does take it back, the total is lower and nothing is
    unexplained either way.)
    """
    returned = sum(
        r.amount
        for r in refunds
        if r.status is RefundStatus.REJECTED and any(t.to_status is RefundStatus.SUCCEEDED for t in r.history)
    )
    return max(payment.facts.refunded_amount - refunds_counted(refunds) - returned, 0)


def provider_level(refunds: Sequence[Refund]) -> int:
    """The provider-made refunds recorded so far (the running position new ones are named by)."""
    return sum(r.amount for r in refunds if r.source is RefundSource.PROVIDER)


def provider_refund_id(provider: str, provider_payment_id: str, level: int) -> str:
    digest = hashlib.sha256(f"{provider}\x1f{provider_payment_id}\x1fprovider@{level}".encode()).hexdigest()
    return f"rfp_{digest[:24]}"


def record_provider_refund(
    payment: Payment, refunds: Sequence[Refund], plan: PlanConfig, *, now: datetime
) -> RefundChange | None:
    """The refund record, ledger debit and finance alert for an unexplained provider refund.

    ``None`` when the provider's refunds are all explained (or the payment has no store ledger).
    """
    amount = unexplained_refund(payment, refunds)
    store_id = payment.metadata.store_id
    channel = PROVIDER_CHANNEL.get(payment.provider)
    currency = payment.facts.currency
    if amount <= 0 or not store_id or channel is None or not currency or payment.facts.captured_amount <= 0:
        return None
    level = provider_level(refunds) + amount
    refund_id = provider_refund_id(payment.provider, payment.provider_payment_id, level)
    reported = sorted(k for k, f in payment.facts.refunds.items() if f.state in ("pending", "succeeded"))
    note = f"refunded at the provider, not through cardops (reported as {', '.join(reported)})"
    refund = Refund(
        refund_id=refund_id,
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id,
        store_id=store_id,
        channel=channel,
        currency=currency,
        amount=amount,
        reason=RefundReason.OTHER,
        note=note,
        status=RefundStatus.SUCCEEDED,
        version=1,
        created_at=now,
        updated_at=now,
        provider_refund_id=f"{payment.provider_payment_id}@{level}",
        source=RefundSource.PROVIDER,
        history=(
            RefundTransition(
                at=now, actor="provider", from_status=None, to_status=RefundStatus.SUCCEEDED, note=note
            ),
        ),
    )
    alert = FinanceAlert(
        alert_id=f"provider_refund:{refund_id}",
        kind="provider_refund",
        refund_id=refund_id,
        store_id=store_id,
        channel=channel,
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id,
        amount=amount,
        currency=currency,
        card_expired=False,
        detail=note,
        at=now,
    )
    entries = refund_entries(
        store_id=store_id,
        channel=channel,
        currency=currency,
        refund_id=refund_id,
        amount=amount,
        plan=plan,
        now=now,
    )
    return RefundChange(refund=refund, changed=(refund,), entries=entries, alerts=(alert,))
