"""What became of a webhook event after intake (SPEC §1, §9): processed, failing, or parked.

The processor records each attempt on the stored event; the dead-letter queue holds the messages
that failed ``maxReceiveCount`` times. Admins list the parked ones with their reasons and move one
back to the events queue once its cause is fixed (``cardops events dlq``/``redrive``).

An event that can never succeed as it is (schema-invalid) never reaches the DLQ: it is parked on
the stored event itself (``permanent``) and listed by ``cardops events parked``; ``redrive``
re-enqueues it from the stored body once the schema handling is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from cardops.payments.providers import registry
from cardops.payments.store.dead_letters import DeadLetterQueue, ParkedMessage

EventState = Literal["queued", "processed", "failing", "parked"]


class EventNotFound(LookupError):
    """No stored event, or no parked message, with that id."""


class AmbiguousEvent(Exception):
    """The event id is parked for more than one provider: the caller must name the provider."""


class Records(Protocol):
    def processing_state(self, *, provider: str, event_id: str) -> dict[str, Any] | None: ...

    def record_redrive(self, *, provider: str, event_id: str, at: datetime) -> None: ...

    def list_parked(self, *, limit: int = 200) -> list[dict[str, Any]]: ...


#: re-enqueues a stored event for processing (the processor reads its body from the store)
Requeue = Callable[[str, str], None]


class EventStatus(BaseModel):
    provider: str
    event_id: str
    state: EventState
    received_at: str | None = None
    processed_at: str | None = None
    outcome: str | None = None
    attempts: int = 0
    first_failed_at: str | None = None
    last_failed_at: str | None = None
    reason: str | None = None
    parked_at: str | None = None
    #: parked because it can never succeed as it is (not retried; see ``cardops events parked``)
    permanent: bool = False
    redriven_at: str | None = None


class PermanentlyParked(BaseModel):
    """A stored event parked without retries: its body fails the provider's event schema."""

    provider: str
    event_id: str
    received_at: str | None
    parked_at: str | None
    attempts: int
    reason: str


class ParkedEvent(BaseModel):
    """A message in the dead-letter queue, with what the processor recorded about its failures."""

    provider: str | None
    event_id: str | None
    message_id: str
    receive_count: int
    attempts: int
    first_failed_at: str | None
    last_failed_at: str | None
    reason: str
    sent_at: datetime | None


def status_of(provider: str, event_id: str, record: dict[str, Any] | None) -> EventStatus:
    if record is None:
        raise EventNotFound(f"event {provider}/{event_id} not found")
    processed, failed = record.get("processed_at"), record.get("last_failed_at")
    state: EventState
    if record.get("parked_at"):
        state = "parked"
    elif processed and (not failed or processed >= failed):
        state = "processed"
    elif record.get("attempts"):
        state = "failing"
    else:
        state = "queued"
    return EventStatus(
        provider=provider,
        event_id=event_id,
        state=state,
        received_at=record.get("received_at"),
        processed_at=processed,
        outcome=record.get("outcome"),
        attempts=int(record.get("attempts") or 0),
        first_failed_at=record.get("first_failed_at"),
        last_failed_at=failed,
        reason=record.get("last_error"),
        parked_at=record.get("parked_at"),
        permanent=bool(record.get("permanent")),
        redriven_at=record.get("redriven_at"),
    )


def list_permanently_parked(records: Records) -> list[PermanentlyParked]:
    return [
        PermanentlyParked(
            provider=record["provider"],
            event_id=record["event_id"],
            received_at=record.get("received_at"),
            parked_at=record.get("parked_at"),
            attempts=int(record.get("attempts") or 0),
            reason=str(record.get("last_error") or "unknown"),
        )
        for record in records.list_parked()
    ]


def _reference(message: ParkedMessage) -> tuple[str | None, str | None]:
    try:
        body = json.loads(message.body)
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    provider, event_id = body.get("provider"), body.get("event_id")
    return (
        provider if isinstance(provider, str) else None,
        event_id if isinstance(event_id, str) else None,
    )


def _parked_event(message: ParkedMessage, records: Records) -> ParkedEvent:
    provider, event_id = _reference(message)
    record = records.processing_state(provider=provider, event_id=event_id) if provider and event_id else None
    if record is None:
        reason = "unknown: the message names no stored event (it may have expired)"
    else:
        reason = str(record.get("last_error") or "unknown: no failure was recorded for this event")
    return ParkedEvent(
        provider=provider,
        event_id=event_id,
        message_id=message.message_id,
        receive_count=message.receive_count,
        attempts=int((record or {}).get("attempts") or 0),
        first_failed_at=(record or {}).get("first_failed_at"),
        last_failed_at=(record or {}).get("last_failed_at"),
        reason=reason,
        sent_at=message.sent_at,
    )


def list_parked(dlq: DeadLetterQueue, records: Records) -> list[ParkedEvent]:
    with dlq.browse() as messages:
        return [_parked_event(message, records) for message in messages]


def redrive(
    dlq: DeadLetterQueue,
    records: Records,
    *,
    events_queue_url: str,
    event_id: str,
    provider: str | None,
    now: datetime,
    requeue: Requeue | None = None,
) -> ParkedEvent:
    """Move the parked message of ``event_id`` back to the events queue (all copies of it).

    An event parked as permanent has no DLQ message: it is re-enqueued from the stored event.
    """
    with dlq.browse() as messages:
        matches = [
            (message, found)
            for message in messages
            if (found := _reference(message))[1] == event_id and (provider is None or found[0] == provider)
        ]
        if not matches:
            stored = _redrive_stored(records, requeue, event_id=event_id, provider=provider, now=now)
            if stored is not None:
                return stored
            where = f"{provider}/{event_id}" if provider else event_id
            raise EventNotFound(f"event {where} is not in the dead-letter queue")
        providers = {found[0] for _, found in matches}
        if len(providers) > 1:
            names = ", ".join(sorted(map(str, providers)))
            raise AmbiguousEvent(f"event {event_id} is parked for several providers ({names}): name one")
        parked = _parked_event(matches[0][0], records)
        for message, _ in matches:
            dlq.move(message, to_url=events_queue_url)
    (only_provider,) = providers
    if only_provider:
        records.record_redrive(provider=only_provider, event_id=event_id, at=now)
    return parked


def _redrive_stored(
    records: Records, requeue: Requeue | None, *, event_id: str, provider: str | None, now: datetime
) -> ParkedEvent | None:
    """Re-enqueue an event parked as permanent (none in the DLQ); None when there is no such event."""
    if requeue is None:
        return None
    found = []
    for name in (provider,) if provider else registry.names():
        record = records.processing_state(provider=name, event_id=event_id)
        if record is not None and record.get("permanent") and record.get("parked_at"):
            found.append((name, record))
    if not found:
        return None
    if len(found) > 1:
        names = ", ".join(name for name, _ in found)
        raise AmbiguousEvent(f"event {event_id} is parked for several providers ({names}): name one")
    ((name, record),) = found
    requeue(name, event_id)
    records.record_redrive(provider=name, event_id=event_id, at=now)
    return ParkedEvent(
        provider=name,
        event_id=event_id,
        message_id=f"stored:{name}/{event_id}",
        receive_count=0,
        attempts=int(record.get("attempts") or 0),
        first_failed_at=record.get("first_failed_at"),
        last_failed_at=record.get("last_failed_at"),
        reason=str(record.get("last_error") or "unknown"),
        sent_at=None,
    )
