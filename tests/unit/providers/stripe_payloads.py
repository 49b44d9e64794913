"""Realistic Stripe JSON objects (API version 2024-06-20) for the client and webhook tests."""

from __future__ import annotations

from typing import Any

AUTHORIZED_AT = 1_740_787_200  # 2025-03-01T00:00:00Z
CAPTURE_BEFORE = AUTHORIZED_AT + 7 * 86_400
METADATA = {
    "store_id": "store_042",
    "reservation_id": "rsv_20250301_0007",
    "visit_date": "2025-03-05",
    "accepted_at": "2025-03-01T09:00:00+09:00",
    "mcc": "7230",
}


def card_details(**overrides: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "amount_authorized": 12000,
        "brand": "visa",
        "capture_before": CAPTURE_BEFORE,
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        "country": "JP",
        "exp_month": 12,
        "exp_year": 2030,
        "extended_authorization": {"status": "disabled"},
        "fingerprint": "Xt5EWLLDS7FJjR1c",
        "funding": "credit",
        "incremental_authorization": {"status": "unavailable"},
        "last4": "4242",
        "mandate": None,
        "multicapture": {"status": "unavailable"},
        "network": "visa",
        "network_token": {"used": False},
        "overcapture": {"maximum_amount_capturable": 12000, "status": "unavailable"},
        "three_d_secure": None,
        "wallet": None,
    }
    card.update(overrides)
    return card


def charge(
    *,
    charge_id: str = "ch_3QzAbC2eZvKYlo2C0abc1234",
    intent_id: str = "pi_3QzAbC2eZvKYlo2C0xyz9876",
    captured: bool = False,
    amount_captured: int = 0,
    amount_refunded: int = 0,
    refunds: list[dict[str, Any]] | None = None,
    disputed: bool = False,
    status: str = "succeeded",
    metadata: dict[str, str] | None = None,
    card: dict[str, Any] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": charge_id,
        "object": "charge",
        "amount": 12000,
        "amount_captured": amount_captured,
        "amount_refunded": amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": "txn_3QzAbC2eZvKYlo2C0bal" if captured else None,
        "billing_details": {
            "address": None,
            "email": "hanako@example.jp",
            "name": "YAMADA HANAKO",
            "phone": None,
        },
        "calculated_statement_descriptor": "YOYAKU KESSAI",
        "captured": captured,
        "created": AUTHORIZED_AT,
        "currency": "jpy",
        "customer": "cus_RqPz8a9bCdEfGh",
        "description": None,
        "disputed": disputed,
        "failure_code": None if status != "failed" else "card_declined",
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": metadata if metadata is not None else {},
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 12,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": status == "succeeded",
        "payment_intent": intent_id,
        "payment_method": "pm_1QzAbC2eZvKYlo2CcardPM",
        "payment_method_details": {"card": card or card_details(), "type": "card"},
        "receipt_email": None,
        "refunded": amount_refunded >= 12000,
        "review": None,
        "status": status,
    }
    if refunds is not None:
        obj["refunds"] = {
            "object": "list",
            "data": refunds,
            "has_more": False,
            "total_count": len(refunds),
            "url": f"/v1/charges/{charge_id}/refunds",
        }
    return obj


def refund(
    *,
    refund_id: str = "re_3QzAbC2eZvKYlo2C0ref001",
    amount: int = 3000,
    status: str = "succeeded",
    charge_id: str = "ch_3QzAbC2eZvKYlo2C0abc1234",
    intent_id: str | None = "pi_3QzAbC2eZvKYlo2C0xyz9876",
) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": "txn_3QzAbC2eZvKYlo2C0rtx",
        "charge": charge_id,
        "created": AUTHORIZED_AT + 3 * 86_400,
        "currency": "jpy",
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "failure_reason": "expired_or_canceled_card" if status == "failed" else None,
        "metadata": {},
        "payment_intent": intent_id,
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


def payment_intent(
    *,
    status: str = "requires_capture",
    intent_id: str = "pi_3QzAbC2eZvKYlo2C0xyz9876",
    amount_capturable: int = 12000,
    amount_received: int = 0,
    latest_charge: dict[str, Any] | str | None = "ch_3QzAbC2eZvKYlo2C0abc1234",
    cancellation_reason: str | None = None,
    capture_method: str = "manual",
    metadata: dict[str, str] | None = None,
    last_payment_error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": 12000,
        "amount_capturable": amount_capturable,
        "amount_details": {"tip": {}},
        "amount_received": amount_received,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None if cancellation_reason is None else AUTHORIZED_AT + 86_400,
        "cancellation_reason": cancellation_reason,
        "capture_method": capture_method,
        "client_secret": f"{intent_id}_secret_abc",
        "confirmation_method": "automatic",
        "created": AUTHORIZED_AT - 30,
        "currency": "jpy",
        "customer": "cus_RqPz8a9bCdEfGh",
        "description": "予約 rsv_20250301_0007",
        "invoice": None,
        "last_payment_error": last_payment_error,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": METADATA if metadata is None else metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": "pm_1QzAbC2eZvKYlo2CcardPM",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "setup_future_usage": "off_session",
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def dispute(
    *, status: str = "needs_response", intent_id: str | None = "pi_3QzAbC2eZvKYlo2C0xyz9876"
) -> dict[str, Any]:
    return {
        "id": "dp_1QzAbC2eZvKYlo2Cdisp01",
        "object": "dispute",
        "amount": 12000,
        "balance_transactions": [],
        "charge": "ch_3QzAbC2eZvKYlo2C0abc1234",
        "created": AUTHORIZED_AT + 20 * 86_400,
        "currency": "jpy",
        "evidence_details": {"due_by": AUTHORIZED_AT + 30 * 86_400, "has_evidence": False, "past_due": False},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": intent_id,
        "reason": "fraudulent",
        "status": status,
    }


def event(
    event_type: str, obj: dict[str, Any], *, event_id: str = "evt_3QzAbC2eZvKYlo2C0evt0001"
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": AUTHORIZED_AT + 5,
        "data": {"object": obj, "previous_attributes": {}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_Xy12AbCdEf", "idempotency_key": "7f1c2e4a-idem"},
        "type": event_type,
    }
