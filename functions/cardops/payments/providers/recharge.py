"""Charging a saved card again (SPEC §4 re-payment): what the provider still holds, and the charge.

Each provider that can charge a saved card again offers a ``Recharger`` through its plugin
(``ProviderPlugin.recharger``): PAY.JP's in ``payjp/recharge.py``, Stripe's in ``stripe/recharge.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from cardops.payments.providers.base import ProviderPayment


class SavedCard(BaseModel):
    """What the provider holds for a merchant-initiated charge."""

    model_config = ConfigDict(frozen=True)

    customer_id: str | None
    reusable: bool
    brand: str | None
    #: the saved card itself where the provider charges a payment method, not a customer (Stripe)
    payment_method_id: str | None = None


class Recharger(Protocol):
    def saved_card(self, original_payment_id: str) -> SavedCard: ...

    def charge(
        self,
        *,
        customer_id: str,
        amount: int,
        currency: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
        payment_method_id: str | None = None,
    ) -> ProviderPayment: ...
