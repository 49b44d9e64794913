"""Webhook intake and event processing on the in-memory fakes: an event is authenticated,
stored once and enqueued (again, when its enqueue was not recorded); processing merges what the
provider says into the payment, and a repeated event changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cardops.kernel.secrets import WebhookSecrets
from cardops.payments.domain.payments import PaymentStatus
from cardops.payments.domain.webhook_signatures import SignatureError
from cardops.payments.use_cases import payment_events, webhook_intake
from tests.builders import NOW
from tests.fakes.payments import FakePayments, FakeProvider, FakeQueue, FakeRawEvents

TOKEN = "whook_test_token"
EVENT = {"id": "evnt_1", "type": "charge.captured", "data": {"object": "charge", "id": "ch_1"}}


def accept(raw: FakeRawEvents, queue: FakeQueue, token: str | None = TOKEN) -> webhook_intake.IntakeResult:
    headers = {"x-payjp-webhook-token": token, "content-type": "application/json"}
    return webhook_intake.accept(
        "payjp",
        json.dumps(EVENT).encode(),
        lambda name: headers.get(name.lower()),
        secrets=lambda: WebhookSecrets.model_validate({"payjp_webhook_token": TOKEN}),
        raw_events=raw,
        queue=queue,
        now=NOW,
        max_bytes=64_000,
        ttl_days=30,
        wall_clock=NOW.timestamp,
    )


def test_an_event_is_stored_once_and_enqueued_once() -> None:
    raw, queue = FakeRawEvents(), FakeQueue()
    first = accept(raw, queue)
    again = accept(raw, queue)  # the provider delivers it again
    assert (first.event_id, first.duplicate, again.duplicate) == ("evnt_1", False, True)
    assert queue.messages == [{"provider": "payjp", "event_id": "evnt_1", "body": json.dumps(EVENT)}]
    assert queue.sends == 1


def test_an_event_whose_enqueue_was_not_recorded_is_sent_again_on_redelivery() -> None:
    raw, queue = FakeRawEvents(), FakeQueue()
    raw.fail_enqueue_marks = 1
    with pytest.raises(RuntimeError):
        accept(raw, queue)
    accept(raw, queue)
    assert queue.sends == 2  # resent; the FIFO deduplication keeps one message
    assert len(queue.messages) == 1
    assert ("payjp", "evnt_1") in raw.enqueued


def test_a_wrong_token_stores_nothing() -> None:
    raw, queue = FakeRawEvents(), FakeQueue()
    with pytest.raises(SignatureError):
        accept(raw, queue, token="forged")
    assert (raw.bodies, queue.messages) == ({}, [])


def test_processing_merges_the_providers_view_and_a_repeat_changes_nothing() -> None:
    raw, queue = FakeRawEvents(), FakeQueue()
    accept(raw, queue)
    provider = FakeProvider("payjp", now=NOW)
    provider.authorize("ch_1", 5000, at=NOW)
    provider.capture("ch_1", amount=None, idempotency_key="dashboard")
    payments = FakePayments()

    def process(message: dict[str, Any]) -> payment_events.Outcome:
        return payment_events.process_message(
            message,
            read_body=lambda p, e: raw.get_body(provider=p, event_id=e),
            payments=payments,
            providers=lambda name: provider,
            now=NOW,
        )

    outcome = process(queue.messages[0])
    assert outcome.applied is not None
    payment = payments.get("payjp", "ch_1")
    assert payment is not None
    assert (payment.status, payment.facts.captured_amount) == (PaymentStatus.CAPTURED, 5000)
    body_stored_only = {"provider": "payjp", "event_id": "evnt_1"}  # a large body is read from the store
    assert process(body_stored_only).applied is None
    assert payments.payments[("payjp", "ch_1")].version == payment.version
