"""Capture and the capture-deadline steps (SPEC §3), as plain use cases.

* ``capture``: the store captures all or part of an authorization before its deadline.
* ``wake``: the capture-deadline workflow's one task, run at each wake-up: whatever is due now (a
  reminder, or the expiry at the deadline) and when to wake next; ``after_failure`` when it failed.
* ``check`` / ``remind`` / ``expire`` / ``escalation``: the steps of the previous definition, kept for
  the executions it still runs (a deploy changes the definition of new executions only).

``capture`` and ``expire`` both claim the payment's single outcome before calling the provider
(``adapters.claims``): whichever claims first acts, the other is refused, so a payment ends
``captured`` or ``expired_refunded``, never both, and money is never both taken and released.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from cardops.kernel import clock
from cardops.kernel.observability import make_logger
from cardops.payments.domain.capture_deadline import (
    CaptureRefused,
    DeadlinePolicy,
    PaymentNotCapturable,
    deadline_of,
    due_at,
    ensure_capturable,
)
from cardops.payments.domain.changes import Change
from cardops.payments.domain.payment_notes import Notice
from cardops.payments.domain.payments import (
    Applied,
    CanonicalEvent,
    EventKind,
    Payment,
    PaymentFacts,
    PaymentStatus,
)
from cardops.payments.domain.reservations import Reservation
from cardops.payments.providers import registry
from cardops.payments.providers.base import PaymentProvider, PermanentProviderError, ProviderPayment
from cardops.payments.store.claims import Claim, Outcome
from cardops.payments.use_cases.payment_events import Payments, apply_canonical

ACTOR = "capture-deadline-workflow"
#: a capture claim older than this whose capture never reached the payment is abandoned
CAPTURE_CLAIM_STALE_AFTER = timedelta(minutes=15)


class PaymentNotFound(Exception):
    def __init__(self, provider: str, payment_id: str) -> None:
        super().__init__(f"payment {provider}/{payment_id} not found")


class AutomaticRefundStarted(CaptureRefused):
    def __init__(self) -> None:
        super().__init__(
            "the capture deadline passed and the automatic refund has started; the reservation is "
            "not established (予約不成立) and the store cannot charge again by itself"
        )


class CaptureInProgress(Exception):
    """A capture holds the outcome claim but has not reached the payment yet: retry the step."""


class Claims(Protocol):
    def claim(self, provider: str, payment_id: str, outcome: Outcome, *, now: datetime) -> Claim: ...

    def take_over(
        self, provider: str, payment_id: str, stale: Claim, outcome: Outcome, *, now: datetime
    ) -> bool: ...

    def release(self, provider: str, payment_id: str, outcome: Outcome) -> None: ...


class Reservations(Protocol):
    def get(self, reservation_id: str) -> Reservation | None: ...

    def put(self, reservation: Reservation) -> None: ...


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class NoticeLog(Protocol):
    """Where a sent notice is kept on the payment, so the payment view shows it (not only Step Functions)."""

    def record_notice(self, provider: str, payment_id: str, notice: Notice) -> None: ...


@dataclass(frozen=True)
class Deps:
    payments: Payments
    claims: Claims
    providers: Callable[[str], PaymentProvider]
    reservations: Reservations
    events: Publisher
    policy: DeadlinePolicy = DeadlinePolicy()  # noqa: RUF009 - frozen model
    notices: NoticeLog | None = None


def execution_name(provider: str, payment_id: str) -> str:
    """The capture-deadline execution's name: one per authorization, so a second start is a no-op.

    Step Functions names allow 80 characters of ``[A-Za-z0-9_-]``; longer or unusual ids are hashed.
    """
    name = f"capture-{provider}-{payment_id}"
    if len(name) <= 80 and re.fullmatch(r"[A-Za-z0-9_-]+", name):
        return name
    digest = hashlib.sha256(f"{provider}/{payment_id}".encode()).hexdigest()[:40]
    return f"capture-{provider}-{digest}"


def wait_timestamp(moment: datetime) -> str:
    """An ASL ``TimestampPath`` value strictly after ``moment`` (Wait states have 1 s resolution)."""
    whole = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    return whole.strftime("%Y-%m-%dT%H:%M:%SZ")


def _load(deps: Deps, provider: str, payment_id: str) -> Payment:
    payment = deps.payments.get(provider, payment_id)
    if payment is None:
        raise PaymentNotFound(provider, payment_id)
    return payment


def _apply(
    deps: Deps,
    payment: Payment,
    kind: EventKind,
    facts: PaymentFacts,
    event_id: str,
    *,
    now: datetime,
    actor: str,
) -> Applied | None:
    event = CanonicalEvent(
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id,
        event_id=event_id,
        kind=kind,
        occurred_at=now,
        facts=facts,
        actor=actor,
    )
    return apply_canonical(event, deps.payments, now=now)


# -- capture by the store ------------------------------------------------------------------------


def capture_idempotency_key(payment: Payment, amount: int | None) -> str:
    return (
        f"capture-{payment.provider}-{payment.provider_payment_id}-{amount if amount is not None else 'full'}"
    )


def capture(
    deps: Deps, provider: str, payment_id: str, *, amount: int | None, now: datetime, actor: str
) -> Payment:
    """Capture before the deadline; refused (``CaptureRefused``) after it or after the automatic refund."""
    payment = _load(deps, provider, payment_id)
    ensure_capturable(payment, now, amount=amount, hold=registry.authorization_hold(provider))
    claim = deps.claims.claim(provider, payment_id, "capture", now=now)
    if claim.outcome == "expire":
        raise AutomaticRefundStarted()
    client = deps.providers(provider)
    try:
        snapshot = client.capture(
            payment_id, amount=amount, idempotency_key=capture_idempotency_key(payment, amount)
        )
    except PermanentProviderError:
        # the provider captured nothing: give the outcome back so the deadline can still release it
        deps.claims.release(provider, payment_id, "capture")
        raise
    applied = _apply(
        deps, payment, EventKind.CAPTURED, snapshot.facts, f"capture-{payment_id}", now=now, actor=actor
    )
    return applied.payment if applied else _load(deps, provider, payment_id)


# -- the workflow's steps --------------------------------------------------------------------------


NextKind = Literal["reminder", "deadline"]


def check(deps: Deps, provider: str, payment_id: str, *, now: datetime) -> dict[str, Any]:
    """Is the authorization still open, and what comes next: a reminder or the deadline."""
    payment = _load(deps, provider, payment_id)
    deadline = deadline_of(payment, deps.policy, hold=registry.authorization_hold(provider))
    if payment.status is not PaymentStatus.AUTHORIZED or deadline is None:
        return {"open": False, "status": payment.status.value, "next": None}
    for offset in sorted(deps.policy.reminder_offsets, reverse=True):
        at = deadline - offset
        if at > now:
            hours = int(offset.total_seconds() // 3600)
            return {
                "open": True,
                "status": payment.status.value,
                "next": {"kind": "reminder", "at": wait_timestamp(at), "hours_before": hours},
            }
    return {
        "open": True,
        "status": payment.status.value,
        "next": {"kind": "deadline", "at": wait_timestamp(deadline), "hours_before": 0},
    }


def _notice(payment: Payment) -> dict[str, Any]:
    facts = payment.facts
    return {
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "store_id": payment.metadata.store_id,
        "reservation_id": payment.metadata.reservation_id,
        "visit_date": payment.metadata.visit_date,
        "amount": facts.amount,
        "currency": facts.currency,
        "capture_deadline": payment.capture_deadline,
        "deadline_bound": payment.deadline_bound,
        "status": payment.status.value,
    }


def remind(deps: Deps, provider: str, payment_id: str, *, hours_before: int, now: datetime) -> dict[str, Any]:
    """Remind the store to capture, only while the authorization is open and not yet due."""
    payment = _load(deps, provider, payment_id)
    deadline = deadline_of(payment, deps.policy, hold=registry.authorization_hold(provider))
    if payment.status is not PaymentStatus.AUTHORIZED or deadline is None or now > deadline:
        return {"published": False}
    if now < deadline - _reminder_offset(deps.policy, hours_before):
        # the deadline moved later (a re-authorization) while the execution waited: not due yet,
        # the next check waits again for the reminders of the new deadline
        return {"published": False}
    _publish_reminder(deps, payment, deadline, hours_before, now=now)
    return {"published": True}


def _publish_reminder(
    deps: Deps, payment: Payment, deadline: datetime, hours_before: int, *, now: datetime
) -> None:
    event_key = f"reminder-{payment.provider}-{payment.provider_payment_id}-{hours_before}h"
    deps.events.publish(
        "CaptureReminder",
        {**_notice(payment), "audience": "store", "hours_before": hours_before, "event_key": event_key},
    )
    reminder = Notice(
        kind="capture_reminder",
        audience="store",
        at=now,
        event_key=event_key,
        hours_before=hours_before,
        capture_deadline=deadline,
    )
    _record(deps, payment, reminder)


def _reminder_offset(policy: DeadlinePolicy, hours_before: int) -> timedelta:
    """The configured offset ``check`` announced as ``hours_before`` (whole hours, rounded down)."""
    for offset in policy.reminder_offsets:
        if int(offset.total_seconds() // 3600) == hours_before:
            return offset
    return timedelta(hours=hours_before)


def _record(deps: Deps, payment: Payment, notice: Notice) -> None:
    """Keep the sent notice on the payment (after publishing: a retried step publishes and records again)."""
    if deps.notices is not None:
        deps.notices.record_notice(payment.provider, payment.provider_payment_id, notice)


def _claim_expiry(deps: Deps, payment: Payment, *, now: datetime) -> None:
    provider, payment_id = payment.provider, payment.provider_payment_id
    claim = deps.claims.claim(provider, payment_id, "expire", now=now)
    if claim.outcome == "expire":
        return
    if now - claim.claimed_at < CAPTURE_CLAIM_STALE_AFTER:
        raise CaptureInProgress(f"a capture of {provider}/{payment_id} is in progress")
    # an abandoned capture (its response was lost): the provider says whether it happened
    if not deps.claims.take_over(provider, payment_id, claim, "expire", now=now):
        raise CaptureInProgress(f"the outcome claim of {provider}/{payment_id} changed")


def expire(
    deps: Deps, provider: str, payment_id: str, *, now: datetime, actor: str = ACTOR
) -> dict[str, Any]:
    """At the deadline: cancel the authorization, mark ``expired_refunded``, 予約不成立, notify.

    The workflow calls it at the deadline; finance retries a failed automatic refund through it too
    (``actor``: the person, recorded on the payment's history)."""
    payment = _load(deps, provider, payment_id)
    deadline = deadline_of(payment, deps.policy, hold=registry.authorization_hold(provider))
    if payment.status is PaymentStatus.EXPIRED_REFUNDED:
        return {"outcome": "expired_refunded", "status": payment.status.value}
    if payment.status is not PaymentStatus.AUTHORIZED or deadline is None:
        return {"outcome": "closed", "status": payment.status.value}
    if now <= deadline:
        return {"outcome": "not_due", "status": payment.status.value}
    return _expire_open(deps, payment, now=now, actor=actor)


def _expire_open(deps: Deps, payment: Payment, *, now: datetime, actor: str = ACTOR) -> dict[str, Any]:
    """Claim the one outcome, release the authorization, record the expiry and notify (past the deadline)."""
    provider, payment_id = payment.provider, payment.provider_payment_id
    _claim_expiry(deps, payment, now=now)
    client = deps.providers(provider)
    current = client.retrieve(payment_id)
    if current.facts.captured_amount > 0:
        # captured at the provider behind our back (or by an abandoned capture): record it, release nothing
        applied = _apply(deps, payment, EventKind.SNAPSHOT, current.facts, f"snapshot-{payment_id}", now=now,
                         actor=actor)  # fmt: skip
        final = applied.payment if applied else _load(deps, provider, payment_id)
        return {"outcome": "captured", "status": final.status.value}
    released = current if _released(current) else client.cancel_authorization(
        payment_id, idempotency_key=f"expire-{provider}-{payment_id}"
    )  # fmt: skip
    facts = released.facts.merge(PaymentFacts(expired=True))
    applied = _apply(
        deps, payment, EventKind.AUTHORIZATION_EXPIRED, facts, f"expire-{payment_id}", now=now, actor=actor
    )
    final = applied.payment if applied else _load(deps, provider, payment_id)
    _not_established(deps, final, now=now)
    notice = _notice(final)
    audiences: tuple[Literal["store", "customer"], ...] = ("store", "customer")
    for audience in audiences:
        event_key = f"expired-{provider}-{payment_id}-{audience}"
        deps.events.publish(
            "AuthorizationExpiredRefunded", {**notice, "audience": audience, "event_key": event_key}
        )
        sent = Notice(
            kind="expired_refunded",
            audience=audience,
            at=now,
            event_key=event_key,
            capture_deadline=final.capture_deadline,
        )
        _record(deps, final, sent)
    return {"outcome": "expired_refunded", "status": final.status.value}


def _released(snapshot: ProviderPayment) -> bool:
    facts = snapshot.facts
    return facts.captured_amount == 0 and (facts.canceled or facts.expired)


def _not_established(deps: Deps, payment: Payment, *, now: datetime) -> None:
    reservation_id = payment.metadata.reservation_id
    reservation = deps.reservations.get(reservation_id) if reservation_id else None
    if reservation is not None and reservation.established:
        deps.reservations.put(reservation.model_copy(update={"established": False, "updated_at": now}))


def wake(deps: Deps, provider: str, payment_id: str, *, since: datetime, now: datetime) -> dict[str, Any]:
    """One wake-up of the workflow: do whatever is due now, and say when to wake next or that it is done.

    ``since`` is when the execution last woke (or was started): reminders whose time fell in between
    are due (``domain.capture_deadline.due_at``). Every key is always present, so the definition's
    ``ResultSelector`` never misses one. Errors propagate for the definition's Retry and Catch.
    """
    payment = _load(deps, provider, payment_id)
    deadline = deadline_of(payment, deps.policy)
    if payment.status is not PaymentStatus.AUTHORIZED or deadline is None:
        closed = "expired_refunded" if payment.status is PaymentStatus.EXPIRED_REFUNDED else "closed"
        return _woke(done=True, outcome=closed, status=payment.status)
    due = due_at(deadline, now=now, since=since, offsets=deps.policy.reminder_offsets)
    if due.expire:
        result = _expire_open(deps, payment, now=now)
        return _woke(done=True, outcome=result["outcome"], status=PaymentStatus(result["status"]))
    published = due.reminder is not None
    if due.reminder is not None:
        _publish_reminder(deps, payment, deadline, int(due.reminder.total_seconds() // 3600), now=now)
    assert due.next_at is not None
    return _woke(done=False, outcome="waiting", status=payment.status, at=due.next_at, since=now,
                 published=published)  # fmt: skip


def first_wake(
    payment: Payment,
    *,
    now: datetime,
    policy: DeadlinePolicy = DeadlinePolicy(),  # noqa: B008 - frozen
) -> dict[str, str]:
    """The execution input's first wake-up: the definition starts at its Wait, so the starter names it."""
    deadline = deadline_of(payment, policy)
    if deadline is None:
        raise ValueError(f"payment {payment.provider}/{payment.provider_payment_id} has no deadline")
    due = due_at(deadline, now=now, since=now, offsets=policy.reminder_offsets)
    return {"at": wait_timestamp(due.next_at or deadline), "since": now.isoformat()}


def after_failure(deps: Deps, provider: str, payment_id: str, *, now: datetime) -> dict[str, Any]:
    """The wake-up failed after its retries: escalate, unless it was a reminder's and the deadline is ahead.

    At or past the deadline the automatic refund could not be made: ``auto_refund_failed`` (the caller
    hands the case to the operator queue). Before it, a reminder could not be sent: the execution
    waits on for the deadline rather than dying and leaving the authorization held.
    """
    payment = deps.payments.get(provider, payment_id)
    deadline = None if payment is None else deadline_of(payment, deps.policy)
    if payment is None or payment.status is not PaymentStatus.AUTHORIZED or deadline is None:
        return _woke(done=True, outcome="auto_refund_failed", status=payment.status if payment else None)
    due = due_at(deadline, now=now, since=now, offsets=deps.policy.reminder_offsets)
    if due.expire or due.next_at is None:
        return _woke(done=True, outcome="auto_refund_failed", status=payment.status)
    return _woke(done=False, outcome="waiting", status=payment.status, at=due.next_at, since=now)


def _woke(
    *,
    done: bool,
    outcome: str,
    status: PaymentStatus | None,
    at: datetime | None = None,
    since: datetime | None = None,
    published: bool = False,
) -> dict[str, Any]:
    return {
        "done": done,
        "outcome": outcome,
        "status": status.value if status is not None else None,
        "at": wait_timestamp(at) if at is not None else None,
        "since": since.isoformat() if since is not None else None,
        "published": published,
    }


def escalation(provider: str, payment_id: str, error: dict[str, Any] | None, execution: str | None,
               *, now: datetime) -> dict[str, Any]:  # fmt: skip
    """The operator queue message for an automatic refund that could not be made."""
    error = error or {}
    return {
        "kind": "auto_refund_failed",
        "provider": provider,
        "provider_payment_id": payment_id,
        "error": str(error.get("Error", "unknown"))[:256],
        "cause": str(error.get("Cause", ""))[:2000],
        "execution": execution,
        "at": now.isoformat(),
        "action": (
            "cancel the authorization at the provider by hand, then record it; "
            "the customer must not be charged"
        ),
    }


__all__ = [
    "AutomaticRefundStarted",
    "CaptureInProgress",
    "Deps",
    "PaymentNotCapturable",
    "PaymentNotFound",
    "after_failure",
    "capture",
    "check",
    "escalation",
    "execution_name",
    "expire",
    "first_wake",
    "remind",
    "wake",
]


#: an authorization leaving for one of these has nothing left to wait for; ``expired_refunded`` is
#: not here: the workflow itself makes that change, from inside the execution it would stop
ENDS_THE_WAIT = frozenset(
    {
        PaymentStatus.CAPTURED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.CANCELED,
        PaymentStatus.FAILED,
        PaymentStatus.DISPUTED,
    }
)


class ClaimReads(Protocol):
    def get(self, provider: str, payment_id: str) -> Claim | None: ...


@dataclass(frozen=True)
class DeadlineListenerDeps:
    """What the change-feed listener of the capture deadline uses (``wiring.capture_deadline_listener``)."""

    claims: ClaimReads
    #: the capture-deadline state machine; empty where the function has none (nothing is started)
    state_machine_arn: str
    #: ``kernel.workflows.start_once``: start an execution by name, a second start a no-op
    start_once: Callable[[str, str, dict[str, Any]], bool]
    #: ``kernel.workflows.stop_if_running``: one call, whether the execution runs, ended or never started
    stop_if_running: Callable[[str, str, str], None]
    now: Callable[[], datetime] = clock.now


def _expiry_claimed(deps: DeadlineListenerDeps, payment: Payment) -> bool:
    claim = deps.claims.get(payment.provider, payment.provider_payment_id)
    return claim is not None and claim.outcome == "expire"


def capture_deadline_listener(deps: DeadlineListenerDeps, change: Change) -> None:
    """Start the capture-deadline workflow once per authorization; stop it once nothing is left to wait for.

    Called for every change while the payment is an open authorization with a deadline; the
    execution name comes from the payment, so every call after the first is a no-op.
    """
    payment = change.new
    arn = deps.state_machine_arn
    if arn and change.from_status is PaymentStatus.AUTHORIZED and payment.status in ENDS_THE_WAIT:
        if payment.status is PaymentStatus.CANCELED and _expiry_claimed(deps, payment):
            # the provider's notice of the cancel the workflow itself is making: the execution is
            # in its AutoRefund step and records expired_refunded next; stopping it would abort that
            return
        # captured or canceled: nothing is left to wait for, so no execution idles until the deadline
        try:
            deps.stop_if_running(
                arn, execution_name(payment.provider, payment.provider_payment_id), f"{payment.status.value}"
            )
        except Exception:
            make_logger("cardops-capture").warning("execution not stopped; it ends at its next check")
        return
    if not arn or payment.status is not PaymentStatus.AUTHORIZED or payment.capture_deadline is None:
        return
    deps.start_once(
        arn,
        execution_name(payment.provider, payment.provider_payment_id),
        {
            "provider": payment.provider,
            "provider_payment_id": payment.provider_payment_id,
            "wake": first_wake(payment, now=deps.now()),
        },
    )
