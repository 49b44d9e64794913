"""Parked events (the dead-letter queue and events parked as permanent) on the in-memory fakes:
listed with their recorded reason, redriven once with every copy, never guessed between providers."""

from __future__ import annotations

import json

import pytest

from cardops.payments.store.dead_letters import ParkedMessage
from cardops.payments.use_cases import event_processing
from tests.builders import NOW
from tests.fakes.payments import FakeDeadLetters, FakeEventRecords

EVENTS_QUEUE = "https://sqs.example/events"


def parked(n: int, provider: str, event_id: str) -> ParkedMessage:
    body = json.dumps({"provider": provider, "event_id": event_id})
    return ParkedMessage(
        message_id=f"m{n}", receipt_handle=f"r{n}", body=body, receive_count=5, sent_at=NOW, attributes={}
    )


def redrive(
    dlq: FakeDeadLetters,
    records: FakeEventRecords,
    event_id: str,
    *,
    provider: str | None,
    requeue: event_processing.Requeue | None = None,
) -> event_processing.ParkedEvent:
    return event_processing.redrive(
        dlq,
        records,
        events_queue_url=EVENTS_QUEUE,
        event_id=event_id,
        provider=provider,
        now=NOW,
        requeue=requeue,
    )


def test_a_parked_event_is_listed_with_the_reason_it_failed() -> None:
    records = FakeEventRecords({("payjp", "evnt_1"): {"attempts": 5, "last_error": "ValueError: bad amount"}})
    [event] = event_processing.list_parked(FakeDeadLetters([parked(1, "payjp", "evnt_1")]), records)
    assert (event.provider, event.event_id, event.attempts, event.reason) == (
        "payjp", "evnt_1", 5, "ValueError: bad amount",
    )  # fmt: skip


def test_redrive_moves_every_copy_back_and_records_it() -> None:
    dlq = FakeDeadLetters(
        [parked(1, "payjp", "evnt_1"), parked(2, "payjp", "evnt_1"), parked(3, "stripe", "evt_2")]
    )
    records = FakeEventRecords()
    redrive(dlq, records, "evnt_1", provider=None)
    assert len(dlq.sent[EVENTS_QUEUE]) == 2
    assert [m.message_id for m in dlq.messages] == ["m3"]
    assert records.redriven == [("payjp", "evnt_1", NOW)]


def test_an_event_id_parked_for_two_providers_needs_the_provider_named() -> None:
    dlq = FakeDeadLetters([parked(1, "payjp", "same"), parked(2, "stripe", "same")])
    with pytest.raises(event_processing.AmbiguousEvent):
        redrive(dlq, FakeEventRecords(), "same", provider=None)
    assert len(dlq.messages) == 2  # nothing moved
    redrive(dlq, FakeEventRecords(), "same", provider="stripe")
    assert [m.message_id for m in dlq.messages] == ["m1"]


def test_an_event_parked_as_permanent_is_requeued_from_the_store() -> None:
    records = FakeEventRecords(
        {("sbps", "e9"): {"permanent": True, "parked_at": NOW.isoformat(), "attempts": 1}}
    )
    requeued: list[tuple[str, str]] = []
    redrive(FakeDeadLetters(), records, "e9", provider=None, requeue=lambda p, e: requeued.append((p, e)))
    assert requeued == [("sbps", "e9")]
    assert records.redriven == [("sbps", "e9", NOW)]
    with pytest.raises(event_processing.EventNotFound):
        redrive(FakeDeadLetters(), records, "e404", provider=None, requeue=lambda p, e: None)
