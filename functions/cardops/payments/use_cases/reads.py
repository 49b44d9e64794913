"""Read-only questions other slices ask about a payment (support's case view), in one place.

Other slices read payments and their refunds here rather than from the payments store, so the
store can change shape without them.
"""

from __future__ import annotations

from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import Refund
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases.refunds import PaymentNotFoundError, RefundService


def payment(provider: str, payment_id: str) -> Payment | None:
    return PaymentRepository().get(provider, payment_id)


def refunds_of(provider: str, payment_id: str) -> list[Refund]:
    """The refunds requested through cardops for the payment (none when the payment is unknown)."""
    try:
        return RefundService().of_payment(provider, payment_id)
    except PaymentNotFoundError:
        return []
