"""Processing (SPEC §1, §2): provider event → canonical event → one conditional write.

Each provider event is reduced to facts and merged into the payment (``domain.payments``). The write
is conditional on the version that was read; on a conflict the payment is re-read and the facts
merged again, so concurrent deliveries never lose or double an effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cardops.kernel.backoff import CONFLICTS, Backoff
from cardops.payments.domain.capture_deadline import capture_deadline
from cardops.payments.domain.payments import (
    Applied,
    CanonicalEvent,
    HistoryEntry,
    Payment,
    apply_event,
    new_payment,
)
from cardops.payments.domain.webhook_signatures import MalformedWebhook
from cardops.payments.providers import registry
from cardops.payments.providers.base import (
    EventContext,
    PaymentProvider,
    UnsupportedProviderEvent,
)


class UnsupportedEvent(Exception):
    """An event type we do not act on: acknowledged and recorded, never retried."""


class RawEventMissing(LookupError):
    """The queue message names no stored event: nothing to park it on, so it goes to the DLQ."""


class Payments(Protocol):
    def get(self, provider: str, payment_id: str) -> Payment | None: ...

    def save(self, applied: Applied, *, expected_version: int) -> None: ...

    def last_history(self, provider: str, payment_id: str) -> HistoryEntry | None: ...


@dataclass(frozen=True)
class Outcome:
    event_id: str
    applied: Applied | None
    ignored_reason: str | None = None

    def describe(self) -> str:
        """One line an operator reads in ``cardops events show`` and ``invoke --wait``."""
        if self.ignored_reason:
            return f"ignored: {self.ignored_reason}"
        if self.applied is None:
            return "no change: the payment already reflected this event"
        payment, entry = self.applied.payment, self.applied.history
        moved = f"{entry.from_status.value} -> " if entry.from_status is not None else ""
        return (
            f"payment {payment.provider}/{payment.provider_payment_id} {moved}{payment.status.value} "
            f"(version {payment.version})"
        )


class ProcessingLog(Protocol):
    """Where the processor records each attempt on the stored event (the raw event store)."""

    def record_outcome(self, *, provider: str, event_id: str, outcome: str, at: datetime) -> None: ...

    def record_failure(
        self, *, provider: str, event_id: str, reason: str, at: datetime, parked: bool
    ) -> None: ...

    def park(self, *, provider: str, event_id: str, reason: str, at: datetime) -> bool: ...


def is_permanent(exc: BaseException) -> bool:
    """Whether processing the same stored event again can never succeed without a code change.

    The one place that tells permanent from transient failures. Permanent: an authentic event whose
    body fails the provider's event schema (``MalformedWebhook``, or a canonical event that fails
    validation). Everything else is transient and retried by the queue: throttling, the store
    being busy, provider timeouts and 5xx, and also a provider that refuses the re-fetch (a charge
    not found yet, a key not written yet), which an operator can fix without touching the event.
    """
    from pydantic import ValidationError

    return isinstance(exc, MalformedWebhook | ValidationError)


def describe_permanent(exc: BaseException) -> str:
    """The parked reason: says it is permanent, so the redrive runbook never loops it."""
    return f"permanent, parked: {describe_failure(exc)}; redrive only after fixing the schema handling"


def describe_failure(exc: BaseException) -> str:
    """Why an event could not be processed, in one line that names the cause (no body, no card data)."""
    from cardops.payments.providers.base import ProviderError

    if isinstance(exc, ProviderError):
        parts = [f"code {exc.code}"] if exc.code else []
        parts += [f"HTTP {exc.status}"] if exc.status else []
        kind = "temporary provider failure" if exc.transient else "provider refused"
        return f"{kind}: {exc}" + (f" ({', '.join(parts)})" if parts else "")
    if isinstance(exc, MalformedWebhook):
        return f"malformed event: {exc}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def to_canonical(
    provider: str, body: str | bytes, *, providers: Callable[[str], PaymentProvider], now: datetime
) -> CanonicalEvent:
    """``body`` as stored (its bytes, or the inline text as UTF-8), read by the provider's plugin;
    ``providers`` gives an API client to a plugin that re-fetches what an event names (PAY.JP)."""
    plugin = registry.find(provider)
    if plugin is None:
        raise MalformedWebhook(f"no processor for provider {provider!r}")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    context = EventContext(now=now, client=lambda: providers(provider))
    try:
        return plugin.to_canonical(raw, context)
    except UnsupportedProviderEvent as exc:
        raise UnsupportedEvent(str(exc)) from exc


def with_deadline(payment: Payment) -> Payment:
    """Record the effective capture deadline and which bound applied (SPEC §3).

    A pure function of the merged facts and metadata, recomputed on every write whatever the
    status: so it is known as soon as the authorization time is (in any arrival order, a refund
    before its authorization included), and it follows a re-authorization that moves the hold.
    """
    facts = payment.facts
    if facts.authorized_at is None:
        return payment
    deadline = capture_deadline(
        hold=registry.authorization_hold(payment.provider),
        visit_date=payment.metadata.visit_date,
        accepted_at=payment.metadata.accepted_at,
        authorized_at=facts.authorized_at,
        authorization_expires_at=facts.authorization_expires_at,
        mcc=payment.metadata.mcc,
    )
    return payment.model_copy(update={"capture_deadline": deadline.at, "deadline_bound": deadline.bound})


def apply_canonical(
    event: CanonicalEvent,
    payments: Payments,
    *,
    now: datetime,
    backoff: Backoff = CONFLICTS,
) -> Applied | None:
    """Merge the event into its payment with an optimistic, version-checked write.

    A lost version race re-reads after a jittered wait (``backoff``), so concurrent deliveries of
    one payment's events spread out instead of colliding again on every retry.

    What follows from the change (ledger, refunds, the capture-deadline workflow) is not done
    here: the write is the whole of it, and the table's change feed (``use_cases.listeners``)
    delivers it to the listeners at least once, whatever happens to this process after the write.
    """
    from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict

    for _ in backoff.tries():
        stored = payments.get(event.provider, event.provider_payment_id)
        current = stored or new_payment(event)
        applied = apply_event(current, event, now=now)
        if applied is None:
            return None
        applied = Applied(payment=with_deadline(applied.payment), history=applied.history)
        try:
            payments.save(applied, expected_version=current.version)
        except VersionConflict:
            continue
        return applied
    raise StoreUnavailable(f"too many concurrent writers on {event.provider}/{event.provider_payment_id}")


def process_message(
    message: dict[str, Any],
    *,
    read_body: Callable[[str, str], bytes | None],
    payments: Payments,
    providers: Callable[[str], PaymentProvider],
    now: datetime,
) -> Outcome:
    """``providers``: the API client of a provider by name (a plugin that re-fetches asks for it)."""
    provider, event_id = str(message.get("provider")), str(message.get("event_id"))
    inline = message.get("body")
    body: str | bytes
    if isinstance(inline, str):
        body = inline
    else:
        raw = read_body(provider, event_id)
        if raw is None:
            raise RawEventMissing(f"raw event {provider}/{event_id} not found")
        body = raw
    try:
        event = to_canonical(provider, body, providers=providers, now=now)
    except UnsupportedEvent as exc:
        return Outcome(event_id=event_id, applied=None, ignored_reason=f"unsupported event {exc}")
    return Outcome(event_id=event_id, applied=apply_canonical(event, payments, now=now))
