"""Fakes of the payments slice's ports: the payment repository, outcome claims, reservations,
published events, notices, and a provider API client whose answers a test scripts."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cardops.kernel.dynamodb import VersionConflict
from cardops.payments.domain.due_checks import DueRef, DueState, RunCheckpoint, Schedule
from cardops.payments.domain.payment_notes import Notice
from cardops.payments.domain.payments import Applied, HistoryEntry, Payment, PaymentFacts, PaymentMetadata
from cardops.payments.domain.reservations import Reservation
from cardops.payments.providers.base import PermanentProviderError, ProviderError, ProviderPayment
from cardops.payments.store.claims import Claim, Outcome
from cardops.payments.store.dead_letters import ParkedMessage


class FakePayments:
    """Payments with their history; a save is conditioned on the version read (``VersionConflict``)."""

    def __init__(self) -> None:
        self.payments: dict[tuple[str, str], Payment] = {}
        self.history: dict[tuple[str, str], list[HistoryEntry]] = {}

    def get(self, provider: str, payment_id: str) -> Payment | None:
        return self.payments.get((provider, payment_id))

    def save(self, applied: Applied, *, expected_version: int) -> None:
        payment = applied.payment
        key = (payment.provider, payment.provider_payment_id)
        stored = self.payments.get(key)
        if (stored.version if stored else 0) != expected_version:
            raise VersionConflict(f"{key}")
        self.payments[key] = payment
        self.history.setdefault(key, []).append(applied.history)

    def last_history(self, provider: str, payment_id: str) -> HistoryEntry | None:
        entries = self.history.get((provider, payment_id))
        return entries[-1] if entries else None


class FakeClaims:
    """The payment's single outcome claim: the first claim wins, the same outcome claims again."""

    def __init__(self) -> None:
        self.claims: dict[tuple[str, str], Claim] = {}

    def get(self, provider: str, payment_id: str) -> Claim | None:
        return self.claims.get((provider, payment_id))

    def claim(self, provider: str, payment_id: str, outcome: Outcome, *, now: datetime) -> Claim:
        return self.claims.setdefault((provider, payment_id), Claim(outcome=outcome, claimed_at=now))

    def take_over(
        self, provider: str, payment_id: str, stale: Claim, outcome: Outcome, *, now: datetime
    ) -> bool:
        if self.claims.get((provider, payment_id)) != stale:
            return False
        self.claims[(provider, payment_id)] = Claim(outcome=outcome, claimed_at=now)
        return True

    def release(self, provider: str, payment_id: str, outcome: Outcome) -> None:
        claim = self.claims.get((provider, payment_id))
        if claim is not None and claim.outcome == outcome:
            del self.claims[(provider, payment_id)]


class FakeReservations:
    def __init__(self) -> None:
        self.reservations: dict[str, Reservation] = {}

    def get(self, reservation_id: str) -> Reservation | None:
        return self.reservations.get(reservation_id)

    def put(self, reservation: Reservation) -> None:
        self.reservations[reservation.reservation_id] = reservation


@dataclass
class FakePublisher:
    """Events published to the bus, in order."""

    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        self.published.append((detail_type, dict(detail)))

    def types(self) -> list[str]:
        return [detail_type for detail_type, _ in self.published]


@dataclass
class FakeNotices:
    notices: dict[tuple[str, str], dict[str, Notice]] = field(default_factory=dict)

    def record_notice(self, provider: str, payment_id: str, notice: Notice) -> None:
        self.notices.setdefault((provider, payment_id), {}).setdefault(notice.event_key, notice)


class FakeProvider:
    """A provider API client holding its own view of each payment. ``fail`` scripts the next
    answers of a call: ``"transient"`` (``ProviderError``) or ``"refused"`` (``PermanentProviderError``).

    Calls carry idempotency keys, and the same key answers the same way without doing it twice,
    as the real providers do.
    """

    def __init__(self, name: str = "sandbox", *, now: datetime) -> None:
        self.name = name
        #: when the provider does what it is asked (a test moves it)
        self.now = now
        self.payments: dict[str, ProviderPayment] = {}
        self.fail: dict[str, list[str]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.refunded: dict[str, int] = {}
        self._done: set[str] = set()

    def authorize(
        self, payment_id: str, amount: int, *, at: datetime, store_id: str = "store-1"
    ) -> ProviderPayment:
        payment = ProviderPayment(
            provider_payment_id=payment_id,
            facts=PaymentFacts(currency="JPY", authorized_amount=amount, authorized_at=at),
            metadata=PaymentMetadata(store_id=store_id, reservation_id=f"r-{payment_id}"),
        )
        self.payments[payment_id] = payment
        return payment

    def _call(self, name: str, payment_id: str, **kwargs: Any) -> None:
        self.calls.append((name, payment_id, kwargs))
        failures = self.fail.get(name)
        if failures:
            kind = failures.pop(0)
            if kind == "refused":
                raise PermanentProviderError(f"{name} refused", code="card_declined")
            raise ProviderError(f"{name}: provider unavailable")

    def retrieve(self, payment_id: str) -> ProviderPayment:
        self._call("retrieve", payment_id)
        return self.payments[payment_id]

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> ProviderPayment:
        self._call("capture", payment_id, amount=amount, idempotency_key=idempotency_key)
        current = self.payments[payment_id]
        facts = current.facts
        captured = amount if amount is not None else facts.authorized_amount
        updated = current.model_copy(
            update={"facts": facts.model_copy(update={"captured_amount": captured, "captured_at": self.now})}
        )
        self.payments[payment_id] = updated
        return updated

    def cancel_authorization(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        self._call("cancel_authorization", payment_id, idempotency_key=idempotency_key)
        current = self.payments[payment_id]
        updated = current.model_copy(update={"facts": current.facts.model_copy(update={"canceled": True})})
        self.payments[payment_id] = updated
        return updated

    def refund(
        self, payment_id: str, *, amount: int, idempotency_key: str, reason: str | None = None
    ) -> ProviderPayment:
        self._call("refund", payment_id, amount=amount, idempotency_key=idempotency_key, reason=reason)
        if idempotency_key not in self._done:
            self._done.add(idempotency_key)
            self.refunded[payment_id] = self.refunded.get(payment_id, 0) + amount
        return self.payments[payment_id]


class FakeRawEvents:
    """Raw webhook bodies stored once per (provider, event id), with each one's processing record as
    ``RawEventStore`` keeps it (processed, parked, redriven: what intake reads back on a duplicate)."""

    def __init__(self) -> None:
        self.bodies: dict[tuple[str, str], bytes] = {}
        self.records: dict[tuple[str, str], dict[str, Any]] = {}

    def put_if_absent(
        self,
        *,
        provider: str,
        event_id: str,
        body: bytes,
        content_type: str,
        received_at: datetime,
        ttl_days: int,
    ) -> tuple[bool, dict[str, Any]]:
        key = (provider, event_id)
        if key in self.bodies:
            return False, dict(self.records[key])
        self.bodies[key] = body
        self.records[key] = {"content_type": content_type[:128], "received_at": received_at.isoformat()}
        return True, {}

    def record_outcome(self, *, provider: str, event_id: str, outcome: str, at: datetime) -> None:
        record = self.records[(provider, event_id)]
        for key in ("parked_at", "permanent"):
            record.pop(key, None)
        record |= {"processed_at": at.isoformat(), "outcome": outcome[:1000]}

    def record_failure(
        self, *, provider: str, event_id: str, reason: str, at: datetime, parked: bool
    ) -> None:
        record = self.records[(provider, event_id)]
        record["attempts"] = record.get("attempts", 0) + 1
        record |= {"last_error": reason[:1000], "last_failed_at": at.isoformat()}
        record.setdefault("first_failed_at", at.isoformat())
        if parked:
            record["parked_at"] = at.isoformat()

    def park(self, *, provider: str, event_id: str, reason: str, at: datetime) -> bool:
        if (provider, event_id) not in self.records:
            return False
        self.record_failure(provider=provider, event_id=event_id, reason=reason, at=at, parked=True)
        self.records[(provider, event_id)]["permanent"] = True
        return True

    def record_redrive(self, *, provider: str, event_id: str, at: datetime) -> None:
        record = self.records[(provider, event_id)]
        for key in ("parked_at", "permanent"):
            record.pop(key, None)
        record["redriven_at"] = at.isoformat()

    def get_body(self, *, provider: str, event_id: str) -> bytes | None:
        return self.bodies.get((provider, event_id))


@dataclass
class FakeQueue:
    """The events queue as deployed, a standard queue: every send is a message (``dedupe_id`` rides
    along as an attribute; SQS deduplicates only on a FIFO queue)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    dedupe_ids: list[str] = field(default_factory=list)

    @property
    def sends(self) -> int:
        return len(self.messages)

    def send(self, message: Mapping[str, Any], *, dedupe_id: str) -> None:
        self.messages.append(dict(message))
        self.dedupe_ids.append(dedupe_id)


# -- the janitor's ports (``use_cases.janitor``) ------------------------------------------------------


class FakeDueIndex:
    """Anchors per schedule and shard, sorted; pages are positions, as DynamoDB's keys are."""

    def __init__(
        self, entries: dict[int, list[tuple[datetime, DueRef]]], schedule: Schedule = Schedule.PENDING
    ) -> None:
        self.entries: dict[tuple[Schedule, int], list[tuple[datetime, DueRef]]] = {}
        for shard, items in entries.items():
            for anchor, ref in items:
                self.add(shard, anchor, ref, schedule=schedule)
        #: entries read (one per ``oldest`` answer too), and calls made (pages and ``oldest``)
        self.reads = 0
        self.queries = 0

    def add(
        self, shard: int, anchor: datetime, ref: DueRef, *, schedule: Schedule = Schedule.PENDING
    ) -> None:
        lane = self.entries.setdefault((schedule, shard), [])
        lane.append((anchor, ref))
        lane.sort(key=lambda e: (e[0], e[1].key))

    def oldest(self, schedule: Schedule, shard: int) -> datetime | None:
        self.queries += 1
        entries = self.entries.get((schedule, shard), [])
        self.reads += 1 if entries else 0
        return entries[0][0] if entries else None

    def page(
        self,
        schedule: Schedule,
        shard: int,
        *,
        after: datetime,
        until: datetime,
        start: dict[str, Any] | None,
        limit: int,
    ) -> tuple[list[DueRef], dict[str, Any] | None]:
        self.queries += 1
        due = [ref for at, ref in self.entries.get((schedule, shard), []) if after < at <= until]
        offset = int(start["offset"]) if start else 0
        page = due[offset : offset + limit]
        self.reads += len(page)
        more = offset + limit < len(due)
        return page, ({"offset": offset + limit} if more else None)


class FakeCheckpoints:
    def __init__(self) -> None:
        self.stored: RunCheckpoint | None = None
        self.saves = 0

    def load(self) -> RunCheckpoint | None:
        return self.stored

    def save(self, checkpoint: RunCheckpoint, *, expected_seq: int | None) -> bool:
        current = self.stored.seq if self.stored is not None else None
        if current != expected_seq:
            return False
        self.stored = checkpoint
        self.saves += 1
        return True


class FakeCheckQueue:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[DueRef]]] = []
        self.sends = 0

    def send(self, run_id: str, batches: Sequence[Sequence[DueRef]]) -> None:
        self.sends += 1
        self.messages += [(run_id, list(batch)) for batch in batches]

    def refs(self) -> list[DueRef]:
        return [ref for _, batch in self.messages for ref in batch]


class FakeDue:
    def __init__(self, state: DueState | None) -> None:
        self.current = state
        self.reads = 0
        self._lock = threading.Lock()  # a batch's checks read at once

    def state(self, ref: DueRef) -> DueState | None:
        with self._lock:
            self.reads += 1
        return self.current


# -- event processing's ports (``use_cases.event_processing``) ----------------------------------------


class FakeDeadLetters:
    """Parked messages; ``move`` sends a message on (to ``sent[url]``) and then deletes it here."""

    def __init__(self, messages: Sequence[ParkedMessage] = ()) -> None:
        self.messages = list(messages)
        self.sent: dict[str, list[str]] = {}

    @contextmanager
    def browse(self) -> Iterator[list[ParkedMessage]]:
        yield sorted(self.messages, key=lambda m: m.sent_at or datetime.min.replace(tzinfo=UTC))

    def move(self, message: ParkedMessage, *, to_url: str) -> None:
        self.sent.setdefault(to_url, []).append(message.body)
        self.messages.remove(message)


@dataclass
class FakeEventRecords:
    """The stored events' processing records, by (provider, event id)."""

    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    redriven: list[tuple[str, str, datetime]] = field(default_factory=list)

    def processing_state(self, *, provider: str, event_id: str) -> dict[str, Any] | None:
        return self.records.get((provider, event_id))

    def record_redrive(self, *, provider: str, event_id: str, at: datetime) -> None:
        self.redriven.append((provider, event_id, at))
        self.records.setdefault((provider, event_id), {})["redriven_at"] = at.isoformat()

    def list_parked(self, *, limit: int = 200) -> list[dict[str, Any]]:
        parked = [
            {"provider": p, "event_id": e, **r} for (p, e), r in self.records.items() if r.get("parked_at")
        ]
        return parked[:limit]
