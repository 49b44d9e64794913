"""PAY.JP re-payment (SPEC §4): a charge links to a customer (``customer``) whose default card the
merchant may charge again. A customer that is gone, or whose card is not reusable, cannot be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cardops.payments.providers.base import PermanentProviderError, ProviderPayment
from cardops.payments.providers.payjp.client import PayjpClient
from cardops.payments.providers.recharge import SavedCard


class PayjpRecharger:
    def __init__(self, client: PayjpClient) -> None:
        self.client = client

    def saved_card(self, original_payment_id: str) -> SavedCard:
        charge = self.client.retrieve(original_payment_id)
        if not charge.customer_id:
            return SavedCard(customer_id=None, reusable=False, brand=charge.card_brand)
        try:
            customer = self.client.http.request("GET", f"/v1/customers/{charge.customer_id}")
        except PermanentProviderError as exc:
            if exc.status == 404:
                return SavedCard(customer_id=charge.customer_id, reusable=False, brand=charge.card_brand)
            raise
        card = _default_card(customer)
        if card is None:
            return SavedCard(customer_id=charge.customer_id, reusable=False, brand=charge.card_brand)
        return SavedCard(
            customer_id=charge.customer_id,
            # PAY.JP's test mode (our emulator) marks cards that cannot be charged again
            reusable=card.get("reusable") is not False,
            brand=str(card.get("brand") or charge.card_brand or "") or None,
        )

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
        """PAY.JP charges the customer's default card: ``payment_method_id`` is not used."""
        return self.client.create_charge(
            amount=amount,
            currency=currency,
            customer=customer_id,
            capture=True,
            metadata=metadata,
            idempotency_key=idempotency_key,
        )


def _default_card(customer: Mapping[str, Any]) -> Mapping[str, Any] | None:
    cards = customer.get("cards")
    data = cards.get("data") if isinstance(cards, Mapping) else None
    if not isinstance(data, list):
        return None
    wanted = customer.get("default_card")
    for card in data:
        if isinstance(card, Mapping) and (wanted is None or card.get("id") == wanted):
            return card
    return None
