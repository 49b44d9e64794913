"""Re-payment for Stripe originals (SPEC §4): the saved customer and card, charged off-session.

A Stripe card can be charged again by the merchant while it is a PaymentMethod attached to the
original's Customer (the original payment's card first, else the customer's default). No customer,
a deleted one, or no attached card: not reusable, and eligibility names ``card_not_reusable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from cardops.payments.providers.base import PermanentProviderError, ProviderPayment
from cardops.payments.providers.recharge import SavedCard
from cardops.payments.providers.stripe.client import StripeClient

#: Stripe's brand codes as the card brands ``REPAYMENT_MIT_BRANDS`` names
BRAND_NAMES: Final = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "jcb": "JCB",
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "unionpay": "UnionPay",
}


def brand_name(code: str | None) -> str | None:
    return BRAND_NAMES.get(code.lower(), code) if code else None


class StripeRecharger:
    def __init__(self, client: StripeClient) -> None:
        self.client = client

    def saved_card(self, original_payment_id: str) -> SavedCard:
        original = self.client.retrieve(original_payment_id)
        brand = brand_name(original.card_brand)
        if not original.customer_id:
            return SavedCard(customer_id=None, reusable=False, brand=brand)
        customer = self.client.customer(original.customer_id)
        if customer is None or customer.deleted:
            return SavedCard(customer_id=original.customer_id, reusable=False, brand=brand)
        candidates = [original.payment_method_id]
        default = customer.default_payment_method
        if default is not None and default.id != original.payment_method_id:
            candidates.append(default.id)
        for pm_id in candidates:
            method = self.client.payment_method(pm_id) if pm_id else None
            if method is not None and method.type == "card" and method.customer == customer.id:
                card_brand = brand_name(method.card.brand if method.card else None) or brand
                return SavedCard(
                    customer_id=customer.id, reusable=True, brand=card_brand, payment_method_id=method.id
                )
        return SavedCard(customer_id=customer.id, reusable=False, brand=brand)

    def charge(
        self,
        *,
        customer_id: str,
        amount: int,
        currency: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
        payment_method_id: str | None = None,
    ) -> ProviderPayment:
        if not payment_method_id:
            raise PermanentProviderError(
                "no reusable Stripe payment method is attached to the customer", code="card_not_reusable"
            )
        return self.client.charge_again(
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount=amount,
            currency=currency,
            metadata=metadata,
            idempotency_key=idempotency_key,
        )
