"""Issue 11 item 6: an authentic but schema-invalid event is parked with its reason, not retried
into the dead-letter queue; it is listed, shown, and re-processable by an operator after a fix."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cardops.payments.providers import payjp
from cardops.payments.providers.base import UnsupportedProviderEvent
from tests.helpers import call
from tests.integration.test_processing_failures import Log, deliver, error_lines, process, state

pytest_plugins = ["tests.integration.test_processing_failures"]  # its ``log`` fixture

NO_DATA = json.dumps({"id": "evnt_bad", "object": "event", "type": "charge.succeeded"})


@pytest.fixture
def admin(provisioned: Any) -> Any:
    from cardops.handlers.admin import handler

    return handler


def queued(url: str) -> list[dict[str, Any]]:
    found = boto3.client("sqs", region_name="ap-northeast-1").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_a_schema_invalid_event_is_parked_on_the_first_attempt_and_acknowledged(
    provisioned: Any, log: Log
) -> None:
    message = deliver("payjp", "evnt_bad", NO_DATA)

    assert process(message, attempt=1) == []  # acknowledged: SQS deletes it, no retries into the DLQ

    (line,) = error_lines(log.out)
    assert line["message"] == "event parked: it can never be processed as it is"
    assert line["provider"] == "payjp" and line["event_id"] == "evnt_bad" and line["permanent"] is True
    assert line["reason"].startswith("permanent, parked: malformed event: PAY.JP event has no data object")
    recorded = state("payjp", "evnt_bad")
    assert recorded["permanent"] is True and recorded["parked_at"] and recorded["attempts"] == 1
    assert recorded["last_error"] == line["reason"]


def test_a_parked_event_is_shown_listed_and_redriven_from_the_store(
    provisioned: Any, admin: Any, log: Log
) -> None:
    process(deliver("payjp", "evnt_bad", NO_DATA))

    status, shown = call(admin, "GET", "/admin/events/payjp/evnt_bad")
    assert status == 200 and shown["state"] == "parked" and shown["permanent"] is True
    assert shown["reason"].startswith("permanent, parked:")
    status, listed = call(admin, "GET", "/admin/events/parked")
    assert status == 200
    assert [(p["provider"], p["event_id"]) for p in listed] == [("payjp", "evnt_bad")]
    assert listed[0]["reason"] == shown["reason"]
    assert call(admin, "GET", "/admin/events/dlq")[1] == []  # it never reached the DLQ

    status, moved = call(admin, "POST", "/admin/events/dlq/redrive", {"event_id": "evnt_bad"})
    assert status == 200 and moved["provider"] == "payjp" and moved["reason"] == shown["reason"]
    assert queued(provisioned.events_queue_url) == [{"provider": "payjp", "event_id": "evnt_bad"}]
    assert call(admin, "GET", "/admin/events/parked")[1] == []
    assert call(admin, "GET", "/admin/events/payjp/evnt_bad")[1]["state"] == "failing"


def test_after_a_fix_the_redriven_event_is_processed_and_no_longer_parked(
    provisioned: Any, admin: Any, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    process(deliver("payjp", "evnt_bad", NO_DATA))
    call(admin, "POST", "/admin/events/dlq/redrive", {"event_id": "evnt_bad", "provider": "payjp"})

    def fixed(raw_body: bytes, context: Any = None) -> Any:  # the deployed fix: now a known no-op
        raise UnsupportedProviderEvent("charge.succeeded without data")

    monkeypatch.setattr(payjp.PLUGIN, "to_canonical", fixed)
    assert process({"provider": "payjp", "event_id": "evnt_bad"}) == []  # read from the store

    shown = call(admin, "GET", "/admin/events/payjp/evnt_bad")[1]
    assert shown["state"] == "processed" and shown["permanent"] is False and shown["parked_at"] is None
    assert call(admin, "GET", "/admin/events/parked")[1] == []


def test_an_event_that_cannot_be_parked_is_retried_not_dropped(provisioned: Any, log: Log) -> None:
    """No stored event to park it on: acknowledging would lose it, so the queue retries it."""
    assert process({"provider": "payjp", "event_id": "evnt_unstored", "body": NO_DATA}) == ["m1"]
    (line,) = error_lines(log.out)
    assert line["message"] == "event processing failed" and "malformed event" in line["reason"]


def test_transient_failures_still_go_through_the_queue_retries(emulator: Any, log: Log) -> None:
    body = json.dumps({"id": "evnt_404", "object": "event", "type": "charge.succeeded",
                       "data": {"id": "ch_unknown", "object": "charge"}})  # fmt: skip
    assert process(deliver("payjp", "evnt_404", body), attempt=1) == ["m1"]
    recorded = state("payjp", "evnt_404")
    assert "parked_at" not in recorded and "permanent" not in recorded
