"""Processing failures are loud (issue 17 item 4): an ERROR line naming provider, event id and reason,
and the reason recorded on the stored event so that the dead-letter listing can show it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from cardops.sandbox.lambda_runner import FakeContext
from cardops.sandbox.payjp_emulator import PayjpEmulator
from tests.helpers import sqs_event


def deliver(provider: str, event_id: str, body: str) -> dict[str, Any]:
    """Stored as the webhook intake stores it, and the queue message that refers to it."""
    from cardops.payments.store.payments import RawEventStore

    RawEventStore().put_if_absent(
        provider=provider, event_id=event_id, body=body.encode(), content_type="application/json",
        received_at=datetime.now(UTC), ttl_days=1,
    )  # fmt: skip
    return {"provider": provider, "event_id": event_id, "body": body}


def process(message: dict[str, Any], *, attempt: int = 1) -> list[str]:
    from cardops.handlers.processor import handler

    event = sqs_event(message, "m1")
    event["Records"][0]["attributes"] = {"ApproximateReceiveCount": str(attempt)}
    try:
        result = handler(event, FakeContext(function_name="processor"))
    except BatchProcessingError:
        return ["m1"]
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


class Log:
    """What the processor's logger writes (through its masking formatter), read line by line."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def out(self) -> str:
        text = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        return text


@pytest.fixture
def log() -> Iterator[Log]:
    from cardops.handlers.processor import logger

    log = Log()
    handler = logger.registered_handler
    previous = handler.setStream(log.stream)  # type: ignore[attr-defined]
    yield log
    handler.setStream(previous)  # type: ignore[attr-defined]


def error_lines(output: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [r for r in records if r.get("level") == "ERROR"]


def state(provider: str, event_id: str) -> dict[str, Any]:
    from cardops.payments.store.payments import RawEventStore

    found = RawEventStore().processing_state(provider=provider, event_id=event_id)
    assert found is not None
    return found


def charge_event(event_id: str, charge_id: str) -> str:
    return json.dumps({"id": event_id, "object": "event", "type": "charge.succeeded",
                       "data": {"id": charge_id, "object": "charge"}})  # fmt: skip


def test_refetch_of_an_unknown_charge_is_logged_recorded_and_parked_on_the_last_attempt(
    emulator: PayjpEmulator, log: Log
) -> None:
    message = deliver("payjp", "evnt_unknown", charge_event("evnt_unknown", "ch_unknown"))
    assert process(message, attempt=1) == ["m1"]
    (line,) = error_lines(log.out)
    assert line["provider"] == "payjp" and line["event_id"] == "evnt_unknown"
    assert "ch_unknown" in line["reason"] and "HTTP 404" in line["reason"]
    assert line["attempt"] == 1 and line["parked"] is False
    first = state("payjp", "evnt_unknown")
    assert first["attempts"] == 1 and first["last_error"] == line["reason"] and "parked_at" not in first

    assert process(message, attempt=5) == ["m1"]
    (last,) = error_lines(log.out)
    assert last["parked"] is True and last["max_attempts"] == 5
    parked = state("payjp", "evnt_unknown")
    assert parked["attempts"] == 2 and parked["parked_at"] >= parked["first_failed_at"]
    assert parked["last_failed_at"] == parked["parked_at"]


def test_an_authentic_event_with_empty_metadata_is_processed_not_an_error(
    emulator: PayjpEmulator, log: Log
) -> None:
    """Metadata is optional to processing (the deadline falls back to the authorization bound)."""
    charge = emulator.create_charge(
        {"amount": "3000", "currency": "jpy", "card": "tok_visa", "capture": "false", "metadata": {}}
    )
    message = deliver("payjp", "evnt_nometa", charge_event("evnt_nometa", charge["id"]))
    assert process(message) == []
    assert error_lines(log.out) == []
    assert state("payjp", "evnt_nometa")["outcome"] == f"payment payjp/{charge['id']} authorized (version 1)"


def test_success_records_the_outcome(emulator: PayjpEmulator, log: Log) -> None:
    charge = emulator.create_charge(
        {"amount": "3000", "currency": "jpy", "card": "tok_visa", "capture": "false",
         "metadata": {"store_id": "s1", "reservation_id": "r1", "visit_date": "2026-12-24",
                      "accepted_at": "2026-11-20T10:00:00+09:00"}}
    )  # fmt: skip
    message = deliver("payjp", "evnt_ok", charge_event("evnt_ok", charge["id"]))
    assert process(message) == []
    assert error_lines(log.out) == []
    recorded = state("payjp", "evnt_ok")
    assert recorded["outcome"] == f"payment payjp/{charge['id']} authorized (version 1)"
    assert recorded["processed_at"] and "attempts" not in recorded


def test_a_message_without_a_stored_event_gets_no_stub_item(provisioned: Any, log: Log) -> None:
    from cardops.payments.store.payments import RawEventStore

    assert process({"provider": "stripe", "event_id": "evt_gone"}) == ["m1"]
    (line,) = error_lines(log.out)
    assert line["event_id"] == "evt_gone" and "not found" in line["reason"]
    assert RawEventStore().processing_state(provider="stripe", event_id="evt_gone") is None


def test_a_message_that_is_not_json_is_logged(provisioned: Any, log: Log) -> None:
    from cardops.handlers.processor import handler

    event = sqs_event({}, "m-bad")
    event["Records"][0]["body"] = "not json"
    with pytest.raises(BatchProcessingError):
        handler(event, FakeContext(function_name="processor"))
    (line,) = error_lines(log.out)
    assert line["message_id"] == "m-bad"
