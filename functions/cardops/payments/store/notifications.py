"""EventBridge: capture reminders and the store/customer notifications (SPEC §3).

Each event carries a stable ``event_key``: a retried workflow step may publish twice, and
consumers dedupe on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cardops.kernel import aws
from cardops.kernel.config import settings
from cardops.kernel.dynamodb import dumps

SOURCE = "cardops.payments"


class EventsUnavailable(Exception):
    """EventBridge did not take the event: the step is retried."""


class EventPublisher:
    def __init__(self, bus_name: str | None = None, *, source: str = SOURCE) -> None:
        self.bus_name = bus_name or settings().event_bus_name
        self.source = source

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        try:
            answer = aws.client("events").put_events(
                Entries=[
                    {
                        "Source": self.source,
                        "DetailType": detail_type,
                        "Detail": dumps(detail),
                        "EventBusName": self.bus_name,
                    }
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            raise EventsUnavailable(f"events unavailable: {exc.__class__.__name__}") from exc
        if answer.get("FailedEntryCount", 0):
            codes = [e.get("ErrorCode") for e in answer.get("Entries", []) if e.get("ErrorCode")]
            raise EventsUnavailable(f"event {detail_type} not accepted: {codes}")
