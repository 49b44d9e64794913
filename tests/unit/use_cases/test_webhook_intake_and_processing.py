"""Webhook intake and event processing on the in-memory fakes: an event is authenticated,
stored once and enqueued (again on a redelivery while its stored copy awaits processing);
processing merges what the provider says into the payment, and a repeated event changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
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
MESSAGE = {"provider": "payjp", "event_id": "evnt_1", "body": json.dumps(EVENT)}


def accept(raw: FakeRawEvents, queue: Any, token: str | None = TOKEN) -> webhook_intake.IntakeResult:
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


def test_an_event_is_stored_once_and_a_duplicate_of_it_processed_is_not_sent() -> None:
    raw, queue = FakeRawEvents(), FakeQueue()
    first = accept(raw, queue)
    raw.record_outcome(provider="payjp", event_id="evnt_1", outcome="applied", at=NOW)
    again = accept(raw, queue)  # the provider delivers it again
    assert (first.event_id, first.duplicate, again.duplicate) == ("evnt_1", False, True)
    assert queue.messages == [MESSAGE]
    assert queue.dedupe_ids == ["payjp:evnt_1"]
    assert raw.bodies == {("payjp", "evnt_1"): json.dumps(EVENT).encode()}


def test_a_duplicate_while_the_event_awaits_processing_is_sent_again() -> None:
    """In flight or never handed over, the intake cannot tell: it sends again (processing is idempotent)."""
    raw, queue = FakeRawEvents(), FakeQueue()
    accept(raw, queue)
    assert accept(raw, queue).duplicate
    assert queue.messages == [MESSAGE, MESSAGE]


class _FailingQueue(FakeQueue):
    """The events queue refusing the next ``failures`` sends (SQS unavailable)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def send(self, message: Any, *, dedupe_id: str) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the queue did not answer")
        super().send(message, dedupe_id=dedupe_id)


def test_an_event_whose_enqueue_failed_is_sent_by_the_providers_retry() -> None:
    raw, queue = FakeRawEvents(), _FailingQueue(failures=1)
    with pytest.raises(RuntimeError):
        accept(raw, queue)  # stored, not handed over: the handler answers 503, the provider retries
    assert ("payjp", "evnt_1") in raw.bodies and queue.messages == []
    assert accept(raw, queue).duplicate
    assert queue.messages == [MESSAGE]


PARK: dict[str, Callable[[FakeRawEvents], object]] = {
    "permanent": lambda raw: raw.park(provider="payjp", event_id="evnt_1", reason="no such charge", at=NOW),
    "dead-lettered": lambda raw: raw.record_failure(
        provider="payjp", event_id="evnt_1", reason="timeout", at=NOW, parked=True
    ),
}


@pytest.mark.parametrize("how", PARK)
def test_a_duplicate_of_a_parked_event_is_not_sent_until_it_is_redriven(how: str) -> None:
    """A provider's retry does not take an event out of its park (nor did it with the enqueue mark):
    ``cardops events redrive`` does, and from then on it is in flight again."""
    raw, queue = FakeRawEvents(), FakeQueue()
    accept(raw, queue)
    PARK[how](raw)
    accept(raw, queue)
    assert queue.messages == [MESSAGE]
    raw.record_redrive(provider="payjp", event_id="evnt_1", at=NOW)
    accept(raw, queue)
    assert queue.messages == [MESSAGE, MESSAGE]


def test_a_failed_attempt_short_of_parking_leaves_the_event_awaiting_processing() -> None:
    raw, queue = FakeRawEvents(), FakeQueue()
    accept(raw, queue)
    raw.record_failure(provider="payjp", event_id="evnt_1", reason="timeout", at=NOW, parked=False)
    accept(raw, queue)
    assert queue.messages == [MESSAGE, MESSAGE]


@pytest.mark.parametrize(
    ("record", "sent"),
    [
        ({}, True),  # no stored item came back with the failed put: re-sent rather than lost
        ({"received_at": "t", "enqueued_at": "t"}, True),  # marked by the old intake, not processed
        ({"received_at": "t", "enqueued_at": "t", "processed_at": "t", "outcome": "applied"}, False),
        ({"received_at": "t", "enqueued_at": "t", "parked_at": "t", "permanent": True}, False),
        ({"received_at": "t", "redriven_at": "t", "attempts": 5}, True),
    ],
)
def test_what_a_stored_record_says_about_a_duplicate(record: dict[str, Any], sent: bool) -> None:
    assert webhook_intake.awaits_processing(record) is sent


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
