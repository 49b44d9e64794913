"""PAY.JP's v1 charges API client and the mapping of its charge objects to facts.

PAY.JP's webhook token authenticates the sender, not the body (SPEC §1), so a PAY.JP event only
names the charge: its facts always come from a re-fetch (``GET /v1/charges/{id}``) read here.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from cardops.payments.domain.payments import PaymentFacts, PaymentMetadata, RefundFact
from cardops.payments.providers.base import ProviderPayment, provider_amount
from cardops.payments.providers.http import ProviderHttp
from cardops.payments.providers.payjp.events import PAYJP_REFUND_TOTAL


def _ts(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def metadata_from(raw: Mapping[str, Any] | None) -> PaymentMetadata:
    """Contract-2 metadata; a malformed value is dropped rather than failing the payment."""
    raw = raw or {}

    def text(key: str) -> str | None:
        value = raw.get(key)
        return str(value)[:128] if isinstance(value, str | int) and str(value) else None

    visit: date | None = None
    accepted: datetime | None = None
    try:
        visit = date.fromisoformat(str(raw["visit_date"])) if raw.get("visit_date") else None
    except ValueError:
        visit = None
    try:
        accepted = datetime.fromisoformat(str(raw["accepted_at"])) if raw.get("accepted_at") else None
        if accepted is not None and accepted.tzinfo is None:
            accepted = None
    except ValueError:
        accepted = None
    return PaymentMetadata(
        store_id=text("store_id"),
        reservation_id=text("reservation_id"),
        visit_date=visit,
        accepted_at=accepted,
        mcc=text("mcc"),
    )


def charge_to_payment(charge: Mapping[str, Any]) -> ProviderPayment:
    """A PAY.JP charge object → facts. An uncaptured charge that was refunded is a released authorization."""
    amount = provider_amount(int(charge.get("amount") or 0), "PAY.JP")
    captured = bool(charge.get("captured"))
    paid = bool(charge.get("paid"))
    refunded_total = provider_amount(int(charge.get("amount_refunded") or 0), "PAY.JP")
    refunds: dict[str, RefundFact] = {}
    canceled = False
    if captured and refunded_total > 0:
        refunds[PAYJP_REFUND_TOTAL] = RefundFact(amount=refunded_total, state="succeeded")
    if paid and not captured and bool(charge.get("refunded")):
        canceled = True
    facts = PaymentFacts(
        currency=str(charge.get("currency") or "jpy"),
        authorized_amount=amount if paid else None,
        captured_amount=amount if captured else 0,
        refunds=refunds,
        canceled=canceled,
        failed=not paid and bool(charge.get("failure_code")),
        authorized_at=_ts(charge.get("created")) if paid else None,
        captured_at=_ts(charge.get("captured_at")),
        authorization_expires_at=_ts(charge.get("expired_at")) if paid and not captured else None,
        failure_code=charge.get("failure_code") or None,
    )
    card = charge.get("card") if isinstance(charge.get("card"), Mapping) else {}
    customer = charge.get("customer")
    return ProviderPayment(
        provider_payment_id=str(charge["id"]),
        facts=facts,
        metadata=metadata_from(
            charge.get("metadata") if isinstance(charge.get("metadata"), Mapping) else None
        ),
        customer_id=customer if isinstance(customer, str) and customer else None,
        card_brand=str(card.get("brand")) if card and card.get("brand") else None,
    )


class PayjpClient:
    """PAY.JP v1 charges API over HTTP Basic (secret key as user, empty password)."""

    name = "payjp"

    def __init__(self, *, api_base: str, secret_key: Callable[[], str], **http_options: Any) -> None:
        def auth() -> str:
            token = base64.b64encode(f"{secret_key()}:".encode()).decode()
            return f"Basic {token}"

        self.http = ProviderHttp(base_url=api_base, auth_header=auth, provider="payjp", **http_options)

    def retrieve(self, payment_id: str) -> ProviderPayment:
        return charge_to_payment(self.http.request("GET", f"/v1/charges/{payment_id}"))

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> ProviderPayment:
        params = {"amount": amount} if amount is not None else {}
        charge = self.http.request(
            "POST", f"/v1/charges/{payment_id}/capture", params=params, idempotency_key=idempotency_key
        )
        return charge_to_payment(charge)

    def cancel_authorization(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        """PAY.JP releases an uncaptured authorization by refunding the charge."""
        charge = self.http.request(
            "POST",
            f"/v1/charges/{payment_id}/refund",
            params={"refund_reason": "capture deadline passed"},
            idempotency_key=idempotency_key,
        )
        return charge_to_payment(charge)

    def refund(
        self, payment_id: str, *, amount: int, idempotency_key: str, reason: str | None = None
    ) -> ProviderPayment:
        charge = self.http.request(
            "POST",
            f"/v1/charges/{payment_id}/refund",
            params={"amount": amount, "refund_reason": reason},
            idempotency_key=idempotency_key,
        )
        return charge_to_payment(charge)

    def create_charge(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None = None,
        card: str | None = None,
        capture: bool = True,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str,
    ) -> ProviderPayment:
        charge = self.http.request(
            "POST",
            "/v1/charges",
            params={
                "amount": amount,
                "currency": currency.lower(),
                "customer": customer,
                "card": card,
                "capture": capture,
                "metadata": dict(metadata or {}),
            },
            idempotency_key=idempotency_key,
        )
        return charge_to_payment(charge)
