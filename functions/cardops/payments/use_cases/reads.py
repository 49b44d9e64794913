"""Read-only questions other slices ask about a payment (support's case view), in one place.

Other slices read payments and their refunds here rather than from the payments store, so the
store can change shape without them.
"""

from __future__ import annotations

from typing import Protocol

from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import Refund
from cardops.payments.use_cases.refunds import PaymentLookup, PaymentNotFoundError


class RefundsOfPayment(Protocol):
    def of_payment(self, provider: str, payment_id: str) -> list[Refund]: ...


class PaymentReads:
    """Built by ``payments.wiring.payment_reads``."""

    def __init__(self, payments: PaymentLookup, refunds: RefundsOfPayment) -> None:
        self.payments = payments
        self.refunds = refunds

    def payment(self, provider: str, payment_id: str) -> Payment | None:
        return self.payments.get(provider, payment_id)

    def refunds_of(self, provider: str, payment_id: str) -> list[Refund]:
        """The refunds requested through cardops for the payment (none when the payment is unknown)."""
        try:
            return self.refunds.of_payment(provider, payment_id)
        except PaymentNotFoundError:
            return []
