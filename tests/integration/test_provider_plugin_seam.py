"""Adding a provider is one plugin plus its registration (issue 14 item 2): a provider made up here,
registered for the test and touching no other module, has its webhooks verified, stored, queued
and processed into a payment with a capture deadline, through the real handlers on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import boto3
import pytest

from cardops.kernel.secrets import WebhookSecrets
from cardops.payments.domain.capture_deadline import AuthorizationHold
from cardops.payments.domain.payments import (
    CanonicalEvent,
    EventKind,
    PaymentFacts,
    PaymentMetadata,
    PaymentStatus,
)
from cardops.payments.domain.refunds import ProviderCapabilities, RefundReport
from cardops.payments.domain.webhook_signatures import SignatureError
from cardops.payments.providers import registry
from cardops.payments.providers.base import (
    EventContext,
    Header,
    PaymentLookup,
    PaymentProvider,
    ProviderPlugin,
    UnsupportedProviderEvent,
)
from cardops.payments.providers.recharge import Recharger
from cardops.sandbox.lambda_runner import FakeContext
from tests.helpers import call, sqs_event

TOKEN = "acme-webhook-token"


class AcmePlugin:
    """A provider that signs with a fixed header token and sends its facts in the event."""

    name: Final = "acme"
    capabilities: Final = ProviderCapabilities()
    authorization_hold: Final = AuthorizationHold.UNKNOWN
    reads_stored_payments: Final = False

    def webhook_secrets(self, secrets: WebhookSecrets) -> list[str]:
        return [TOKEN]

    def verify(self, raw_body: bytes, header: Header, secrets: Sequence[str], *, now: float) -> None:
        if header("X-Acme-Token") not in secrets:
            raise SignatureError("not from acme")

    def event_id(self, raw_body: bytes) -> str:
        return str(json.loads(raw_body)["id"])

    def to_canonical(self, raw_body: bytes, context: EventContext | None = None) -> CanonicalEvent:
        payload = json.loads(raw_body)
        if payload["type"] != "authorized":
            raise UnsupportedProviderEvent(payload["type"])
        assert context is not None
        return CanonicalEvent(
            provider=self.name,
            provider_payment_id=payload["payment"],
            event_id=payload["id"],
            kind=EventKind.AUTHORIZED,
            occurred_at=context.now,
            facts=PaymentFacts(
                currency="JPY", authorized_amount=payload["amount"], authorized_at=context.now
            ),
            metadata=PaymentMetadata(store_id="store_acme", reservation_id="rsv_acme"),
        )

    def client(self, payments: PaymentLookup | None = None) -> PaymentProvider:
        raise registry.UnsupportedProvider(self.name)

    def recharger(self, payments: PaymentLookup | None = None) -> Recharger | None:
        return None

    def refund_report(self, facts: PaymentFacts) -> RefundReport:
        return RefundReport()

    def sign_test_webhook(
        self, payload: bytes, secrets: Mapping[str, str], *, now: float
    ) -> tuple[bytes, dict[str, str]]:
        return payload, {"Content-Type": "application/json", "X-Acme-Token": TOKEN}


@pytest.fixture
def acme(provisioned: Any) -> Iterator[ProviderPlugin]:
    with registry.registered(AcmePlugin()) as plugin:
        yield plugin


def _queued(provisioned: Any) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="ap-northeast-1")
    messages = sqs.receive_message(QueueUrl=provisioned.events_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_a_registered_provider_goes_from_webhook_to_payment(acme: ProviderPlugin, provisioned: Any) -> None:
    from cardops.handlers import processor, webhook
    from cardops.payments.store.payments import PaymentRepository, RawEventStore

    event = {"id": "acme_evt_1", "type": "authorized", "payment": "acme_pay_1", "amount": 7000}
    body, headers = acme.sign_test_webhook(json.dumps(event).encode(), {}, now=0.0)
    assert call(webhook.handler, "POST", "/webhooks/acme", body, {"X-Acme-Token": "forged"})[0] == 401
    assert call(webhook.handler, "POST", "/webhooks/acme", body, headers) == (
        200,
        {"received": True, "duplicate": False},
    )
    [message] = _queued(provisioned)
    assert (message["provider"], message["event_id"]) == ("acme", "acme_evt_1")
    del message["body"]  # read back from the stored raw event, as for a large body
    assert processor.handler(sqs_event(message), FakeContext("processor")) == {"batchItemFailures": []}

    payment = PaymentRepository().get("acme", "acme_pay_1")
    assert payment is not None and payment.status is PaymentStatus.AUTHORIZED
    assert (payment.facts.authorized_amount, payment.metadata.store_id) == (7000, "store_acme")
    assert payment.deadline_bound == "business"  # an unknown hold: the business bound decides
    recorded = RawEventStore().processing_state(provider="acme", event_id="acme_evt_1")
    assert recorded is not None and recorded.get("processed_at")


def test_an_unregistered_provider_has_no_route(provisioned: Any) -> None:
    from cardops.handlers import webhook

    status, body = call(webhook.handler, "POST", "/webhooks/acme", b"{}", {"X-Acme-Token": TOKEN})
    assert status == 404 and body["error"]["code"] == "unknown_provider"
