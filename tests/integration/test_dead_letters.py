"""``GET /admin/events/dlq`` and redrive (issue 17 item 4) on moto: parked events with their reasons,
moved back to the events queue, deleted from the dead-letter queue only after the send succeeded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.helpers import call


@pytest.fixture
def admin(provisioned: Any) -> Any:
    from cardops.handlers.admin import handler

    return handler


def park(
    provisioned: Any, provider: str, event_id: str, *, reason: str | None = "provider refused: x"
) -> None:
    """A stored event whose processing failed, and its message in the dead-letter queue."""
    from cardops.payments.store.payments import RawEventStore

    store = RawEventStore()
    at = datetime(2026, 12, 1, 1, 2, 3, tzinfo=UTC)
    store.put_if_absent(provider=provider, event_id=event_id, body=b"{}", content_type="application/json",
                        received_at=at, ttl_days=1)  # fmt: skip
    if reason:
        for _ in range(5):
            store.record_failure(provider=provider, event_id=event_id, reason=reason, at=at, parked=True)
    boto3.client("sqs", region_name="ap-northeast-1").send_message(
        QueueUrl=provisioned.dead_letter_queue_url,
        MessageBody=json.dumps({"provider": provider, "event_id": event_id}),
        MessageAttributes={"dedupe_id": {"DataType": "String", "StringValue": f"{provider}:{event_id}"}},
    )


def queue_bodies(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="ap-northeast-1")
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return [
        {"body": json.loads(m["Body"]), **m.get("MessageAttributes", {})} for m in found.get("Messages", [])
    ]


def test_listing_shows_reasons_and_keeps_the_messages(admin: Any, provisioned: Any) -> None:
    park(provisioned, "payjp", "evnt_a", reason="provider refused: payjp: No such charge: ch_x (HTTP 404)")
    park(provisioned, "stripe", "evt_b", reason=None)
    status, listed = call(admin, "GET", "/admin/events/dlq")
    assert status == 200, listed
    by_id = {p["event_id"]: p for p in listed}
    assert by_id["evnt_a"]["reason"] == "provider refused: payjp: No such charge: ch_x (HTTP 404)"
    assert by_id["evnt_a"]["attempts"] == 5 and by_id["evnt_a"]["provider"] == "payjp"
    assert by_id["evnt_a"]["first_failed_at"] and by_id["evnt_a"]["last_failed_at"]
    assert by_id["evt_b"]["reason"].startswith("unknown")
    again = call(admin, "GET", "/admin/events/dlq")[1]
    assert {p["event_id"] for p in again} == {"evnt_a", "evt_b"}


def test_redrive_moves_one_message_back(admin: Any, provisioned: Any) -> None:
    park(provisioned, "payjp", "evnt_a")
    park(provisioned, "stripe", "evt_b")
    status, moved = call(admin, "POST", "/admin/events/dlq/redrive", {"event_id": "evnt_a"})
    assert status == 200 and moved["provider"] == "payjp"
    (queued,) = queue_bodies(provisioned.events_queue_url)
    assert queued["body"] == {"provider": "payjp", "event_id": "evnt_a"}
    assert queued["dedupe_id"]["StringValue"] == "payjp:evnt_a"
    assert [p["event_id"] for p in call(admin, "GET", "/admin/events/dlq")[1]] == ["evt_b"]
    shown = call(admin, "GET", "/admin/events/payjp/evnt_a")[1]
    assert shown["state"] == "failing" and shown["redriven_at"] and shown["parked_at"] is None


def test_redrive_of_an_unknown_event_is_a_404(admin: Any, provisioned: Any) -> None:
    status, body = call(admin, "POST", "/admin/events/dlq/redrive", {"event_id": "evt_nope"})
    assert status == 404 and body["error"]["message"] == "event evt_nope is not in the dead-letter queue"


def test_a_failed_send_deletes_nothing(admin: Any, provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from cardops.payments.store import dead_letters

    park(provisioned, "payjp", "evnt_a")
    real = dead_letters.DeadLetterQueue._call

    def failing_send(operation: str, **kwargs: Any) -> Any:
        if operation == "send_message":
            raise dead_letters.StoreUnavailable("queue unavailable: ClientError") from ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "x"}}, "SendMessage"
            )
        return real(operation, **kwargs)

    monkeypatch.setattr(dead_letters.DeadLetterQueue, "_call", staticmethod(failing_send))
    status, _ = call(admin, "POST", "/admin/events/dlq/redrive", {"event_id": "evnt_a"})
    assert status == 503
    monkeypatch.setattr(dead_letters.DeadLetterQueue, "_call", staticmethod(real))
    assert [p["event_id"] for p in call(admin, "GET", "/admin/events/dlq")[1]] == ["evnt_a"]
    assert queue_bodies(provisioned.events_queue_url) == []


def test_event_status(admin: Any, provisioned: Any) -> None:
    from cardops.payments.store.payments import RawEventStore

    park(provisioned, "payjp", "evnt_a")
    shown = call(admin, "GET", "/admin/events/payjp/evnt_a")[1]
    assert shown["state"] == "parked" and shown["attempts"] == 5 and shown["reason"] == "provider refused: x"
    RawEventStore().record_outcome(
        provider="payjp", event_id="evnt_a", outcome="payment payjp/ch_1 authorized (version 1)",
        at=datetime.now(UTC),
    )  # fmt: skip
    shown = call(admin, "GET", "/admin/events/payjp/evnt_a")[1]
    assert shown["state"] == "processed" and shown["outcome"].startswith("payment payjp/ch_1")
    status, body = call(admin, "GET", "/admin/events/payjp/evnt_missing")
    assert status == 404 and body["error"]["message"] == "event payjp/evnt_missing not found"
