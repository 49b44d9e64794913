"""Webhook intake (SPEC §1): verify the raw body, store it once, hand it to the queue, answer fast.

Nothing here interprets the event beyond its id: that is the processor's job, off the request path.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cardops.kernel.webhook_secrets import WebhookSecrets
from cardops.payments.domain.webhook_signatures import WebhookNotConfigured as WebhookNotConfigured
from cardops.payments.providers import registry

#: an SQS message stays below its limit with the body inline up to this size; larger ones are read back
INLINE_BODY_LIMIT = 200 * 1024


class UnknownProvider(Exception):
    """No webhook route for this provider: 404. The name is caller input: shown bounded and escaped."""

    def __init__(self, provider: str) -> None:
        self.shown = shown(provider)
        super().__init__(f"no webhook route for provider {self.shown}")


class NoSuchRoute(Exception):
    """A method or path no webhook route answers (``POST /webhooks/{provider}`` only): 404."""


SHOWN_LIMIT = 64


def shown(text: str, limit: int = SHOWN_LIMIT) -> str:
    """Caller input fit for an answer or a log line: control characters escaped, at most ``limit``."""
    head = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text[:limit])
    return f'"{head}"' + (f" (+{len(text) - limit} more characters)" if len(text) > limit else "")


class PayloadTooLarge(Exception):
    """Over the body limit: 413."""


@dataclass(frozen=True)
class IntakeResult:
    provider: str
    event_id: str
    duplicate: bool


class RawEvents(Protocol):
    def put_if_absent(
        self,
        *,
        provider: str,
        event_id: str,
        body: bytes,
        content_type: str,
        received_at: datetime,
        ttl_days: int,
    ) -> tuple[bool, Mapping[str, Any]]:
        """(stored now, the stored copy's processing record: empty when stored now), in one call."""
        ...


class Queue(Protocol):
    def send(self, message: Mapping[str, Any], *, dedupe_id: str) -> None: ...


def _configured(provider: str, values: list[str]) -> list[str]:
    if not values:
        raise WebhookNotConfigured(provider)
    return values


def authenticate(
    provider: str,
    raw_body: bytes,
    header: Callable[[str], str | None],
    secrets: WebhookSecrets,
    *,
    now: float,
) -> str:
    """Verify the request as the provider signs it and return its event id."""
    plugin = registry.find(provider)
    if plugin is None:
        raise UnknownProvider(provider)
    plugin.verify(raw_body, header, _configured(provider, plugin.webhook_secrets(secrets)), now=now)
    return plugin.event_id(raw_body)


def accept(
    provider: str,
    raw_body: bytes,
    header: Callable[[str], str | None],
    *,
    secrets: Callable[[], WebhookSecrets],
    raw_events: RawEvents,
    queue: Queue,
    now: datetime,
    max_bytes: int,
    ttl_days: int,
    wall_clock: Callable[[], float] = time.time,
) -> IntakeResult:
    if registry.find(provider) is None:
        raise UnknownProvider(provider)
    if len(raw_body) > max_bytes:
        raise PayloadTooLarge(f"body of {len(raw_body)} bytes exceeds {max_bytes}")
    event_id = authenticate(provider, raw_body, header, secrets(), now=wall_clock())
    content_type = header("Content-Type") or ""
    stored, earlier = raw_events.put_if_absent(
        provider=provider,
        event_id=event_id,
        body=raw_body,
        content_type=content_type,
        received_at=now,
        ttl_days=ttl_days,
    )
    if stored or awaits_processing(earlier):
        message: dict[str, Any] = {"provider": provider, "event_id": event_id}
        if len(raw_body) <= INLINE_BODY_LIMIT:
            with contextlib.suppress(UnicodeDecodeError):
                message["body"] = raw_body.decode("utf-8")
        queue.send(message, dedupe_id=f"{provider}:{event_id}")
    return IntakeResult(provider=provider, event_id=event_id, duplicate=not stored)


def awaits_processing(earlier: Mapping[str, Any]) -> bool:
    """Whether a duplicate delivery is sent to the queue again: its stored copy is neither processed
    (``processed_at``) nor parked (``parked_at``: a provider's retry does not take it out of the
    dead-letter queue or undo a permanent park; ``cardops events redrive`` does).

    This replaces a mark written after the send (an extra write and call per event): an event
    stored but not handed over (the send failed: a 503, so the provider retries) cannot be told
    apart from one in flight without it, so both are sent. A second message of an event in flight
    is harmless: the events queue is a standard queue (``dedupe_id`` is an attribute, not a FIFO
    deduplication), and the processor treats it as any replay: facts merge idempotently, the
    payment is saved only when it changes (so nothing reaches the change feed twice), and the
    event's recorded outcome is the last processing's. Items written with the old ``enqueued_at``
    mark follow the same rule (the mark is not read).
    """
    return not (earlier.get("processed_at") or earlier.get("parked_at"))
