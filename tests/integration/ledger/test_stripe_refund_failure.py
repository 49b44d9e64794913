"""A Stripe refund that fails or is canceled after Stripe accepted it is reversed like a refund the
card company refused at once (issue 12): the store's ledger gets the debit back, what may be
refunded is restored, finance is alerted; once, however often Stripe reports it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cardops.kernel import clock
from cardops.payments.domain.payments import PaymentFacts, PaymentMetadata
from cardops.payments.domain.refunds import RefundReason, RefundStatus
from cardops.payments.providers.base import ProviderPayment
from cardops.sandbox.lambda_runner import FakeContext
from tests.helpers import drain_changes, sqs_event
from tests.integration.ledger.conftest import CapturePayment
from tests.integration.ledger.test_provider_refunds import balance
from tests.unit.providers import stripe_payloads as sp

STORE = "store_stripe_refunds"
INTENT = "pi_refund_fails"


class StripeRefunds:
    """Stripe's refund API as the refunds use case calls it: each refund it creates is named ``re_…``."""

    name = "stripe"

    def __init__(self) -> None:
        self.created: list[str] = []

    def refund(
        self, payment_id: str, *, amount: int, idempotency_key: str, reason: str | None = None
    ) -> ProviderPayment:
        self.created.append(f"re_{len(self.created) + 1}")
        return ProviderPayment(
            provider_payment_id=payment_id,
            facts=PaymentFacts(currency="JPY"),
            metadata=PaymentMetadata(),
            refund_id=self.created[-1],
        )

    def retrieve(self, payment_id: str) -> ProviderPayment:
        raise AssertionError("a refund needs no re-fetch")

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> ProviderPayment:
        raise AssertionError("not a capture")

    def cancel_authorization(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        raise AssertionError("not a cancel")


def stripe_reports(event_type: str, refund_id: str, status: str, amount: int) -> None:
    """Stripe's webhook through the processor, then the change feed (the refunds listener)."""
    from cardops.handlers import processor

    refund = sp.refund(refund_id=refund_id, amount=amount, status=status, intent_id=INTENT)
    event_id = f"evt_{event_type}_{refund_id}_{status}"
    body = json.dumps(sp.event(event_type, refund, event_id=event_id))
    message = {"provider": "stripe", "event_id": event_id, "body": body}
    assert processor.handler(sqs_event(message), FakeContext("processor")) == {"batchItemFailures": []}
    drain_changes()


def finance_alerts(provisioned: Any) -> list[str]:
    sqs = boto3.client("sqs", region_name="ap-northeast-1")
    messages = sqs.receive_message(QueueUrl=provisioned.operator_queue_url, MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    return [b["alert"]["alert_id"] for b in bodies if b.get("type") == "finance_alert"]


@pytest.mark.parametrize(
    ("event_type", "status"),
    [("charge.refund.updated", "failed"), ("refund.failed", "failed")],
)
def test_a_failed_stripe_refund_gives_the_ledger_its_debit_back(
    captured: CapturePayment, provisioned: Any, event_type: str, status: str
) -> None:
    from cardops.ledger.store import RefundStore
    from cardops.payments.wiring import refund_service

    captured(provider="stripe", payment_id=INTENT, store_id=STORE, amount=10_000)
    before = balance(STORE)
    stripe = StripeRefunds()
    service = refund_service(providers={"stripe": stripe})
    refund, _ = service.request(
        "stripe", INTENT, amount=4000, reason=RefundReason.CUSTOMER_REQUEST,
        idempotency_key="refund-that-fails", now=clock.now(), actor="finance",
    )  # fmt: skip
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, "re_1")
    assert balance(STORE) == before - 4000

    stripe_reports(event_type, "re_1", status, 4000)
    stripe_reports(event_type, "re_1", status, 4000)  # redelivered: reversed once

    after = RefundStore().get("stripe", INTENT, refund.refund_id)
    assert after is not None and after.status is RefundStatus.REJECTED
    assert balance(STORE) == before
    assert finance_alerts(provisioned) == [f"refund_rejected:{refund.refund_id}"]
    # what may be refunded is whole again: the full amount goes through
    again, _ = service.request(
        "stripe", INTENT, amount=10_000, reason=RefundReason.CUSTOMER_REQUEST,
        idempotency_key="refund-again", now=clock.now(), actor="finance",
    )  # fmt: skip
    assert again.status is RefundStatus.SUCCEEDED and again.provider_refund_id == "re_2"


def test_a_refund_stripe_reports_as_succeeded_stays_succeeded(
    captured: CapturePayment, provisioned: Any
) -> None:
    from cardops.payments.wiring import refund_service

    captured(provider="stripe", payment_id=INTENT, store_id=STORE, amount=10_000)
    before = balance(STORE)
    refund, _ = refund_service(providers={"stripe": StripeRefunds()}).request(
        "stripe", INTENT, amount=3000, reason=RefundReason.CUSTOMER_REQUEST,
        idempotency_key="refund-that-works", now=clock.now(), actor="finance",
    )  # fmt: skip
    stripe_reports("charge.refund.updated", "re_1", "succeeded", 3000)
    stripe_reports("charge.refund.updated", "re_other", "failed", 500)  # not one of cardops' refunds
    assert refund_service().get("stripe", INTENT, refund.refund_id).status is RefundStatus.SUCCEEDED
    assert balance(STORE) == before - 3000
    assert finance_alerts(provisioned) == []
