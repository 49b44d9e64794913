"""Re-payment for SBPS originals (SPEC §4): the card SBPS keeps under the customer id, charged again.

SBPS keeps a customer's card (顧客決済情報) under the merchant's customer id (``cust_code``) when the
purchase asked it to (``cust_manage_flg`` 1 at the authorization, or a 顧客決済情報登録 request
``MG02-00101-101``/``MG02-00131-101``); the purchase's result notification carries that
``cust_code`` and cardops keeps it with the payment (``PaymentMetadata.customer_reference``).
Whether the contract lets the purchase page store the card is the merchant's SBPS setting, not
knowable here: the 顧客決済情報参照 (``MG02-00104-101``) says whether a card is kept.

Sources: sbpayment-java (``CardInfoLookupRequest``, ``CardAuthorizeRequest`` with ``BySavedCard``,
``CardCommitRequest``, ``CardCaptureRequest``), sbpayment.rb (``api/credit/read_customer.rb``,
``api/credit/create_customer.rb``, ``api_error/definitions.rb``), developer.sbpayment.jp (link type
B01-1 顧客決済情報登録・更新要求: ``cust_code`` is the key the card is kept under).

No customer id, no card kept under it, or a card past its expiry: not reusable, and eligibility
names ``card_not_reusable``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime

from cardops.kernel.calendar import TOKYO
from cardops.payments.domain.payments import Payment, PaymentMetadata
from cardops.payments.providers.base import PermanentProviderError, ProviderPayment
from cardops.payments.providers.recharge import SavedCard
from cardops.payments.providers.sbps import protocol
from cardops.payments.providers.sbps.client import SbpsClient

#: SBPS's purchase id holds at most 38 single-byte characters
ORDER_ID_MAX = 38


def repayment_order_id(idempotency_key: str) -> str:
    """The purchase id of a re-payment: the same for every attempt of one request (SBPS takes no
    idempotency key; it refuses a second authorization under a purchase id it holds)."""
    return "rp-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[: ORDER_ID_MAX - 3]


def brand_name(code: str | None) -> str | None:
    """SBPS's ``cardbrand_code`` as the brands ``REPAYMENT_MIT_BRANDS`` names (unknown: as given)."""
    return protocol.BRANDS.get(code, code) if code else None


class SbpsRecharger:
    def __init__(
        self,
        client: SbpsClient,
        payments: Callable[[str], Payment | None],
        *,
        now: Callable[[], datetime],
    ) -> None:
        self.client = client
        self._payments = payments
        self._now = now

    def saved_card(self, original_payment_id: str) -> SavedCard:
        original = self._payments(original_payment_id)
        customer = original.metadata.customer_reference if original is not None else None
        if not customer:
            return SavedCard(customer_id=None, reusable=False, brand=None)
        card = self.client.stored_card(customer)
        if card is None:
            return SavedCard(customer_id=customer, reusable=False, brand=None)
        this_month = self._now().astimezone(TOKYO).strftime("%Y%m")
        expired = card.expires is not None and card.expires.isdigit() and card.expires < this_month
        return SavedCard(customer_id=customer, reusable=not expired, brand=brand_name(card.brand_code))

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
        """SBPS charges the card kept under the customer id: ``payment_method_id`` is not used."""
        if currency.upper() != "JPY":
            raise PermanentProviderError(
                f"SBPS charges yen only, not {currency}", code="currency_not_supported"
            )
        known = {name: metadata[name] for name in PaymentMetadata.model_fields if metadata.get(name)}
        return self.client.charge_stored_card(
            order_id=repayment_order_id(idempotency_key),
            cust_code=customer_id,
            amount=amount,
            metadata=PaymentMetadata.model_validate(known),
        )
