"""The payment lifecycle of SPEC §2, made order-independent.

A provider's events arrive duplicated, replayed and out of order. Instead of a state machine driven
by arrival order, every event is reduced to *facts* (amount authorized, amount captured, each
refund and its state, cancel, expiry, failure, disputes) and facts are merged with a join that is
commutative, associative and idempotent: each fact only grows (max, logical or, a per-refund and
per-dispute state that only moves forward). The status is derived from the merged facts, so any
permutation or duplication of a stream ends in the state of the in-order stream, and a stale event
— whose facts are already known — changes nothing, so a terminal state is never left by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

#: a provider's name (``payments.providers.registry`` knows which exist; ``sandbox`` is the
#: plugin-less stand-in of tests and the sandbox): a short lowercase word, as in routes and keys
Provider = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]


class PaymentStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELED = "canceled"
    EXPIRED_REFUNDED = "expired_refunded"
    DISPUTED = "disputed"
    CHARGED_BACK = "charged_back"
    FAILED = "failed"


TERMINAL_STATUSES = frozenset(
    {
        PaymentStatus.REFUNDED,
        PaymentStatus.CANCELED,
        PaymentStatus.EXPIRED_REFUNDED,
        PaymentStatus.CHARGED_BACK,
        PaymentStatus.FAILED,
    }
)

RefundState = Literal["pending", "succeeded", "failed", "canceled"]
# A refund's state only moves up this order (a succeeded refund may still fail later at the card
# company, a failed one never comes back).
_REFUND_RANK: dict[str, int] = {"pending": 0, "succeeded": 1, "failed": 2, "canceled": 2}
DisputeState = Literal["open", "won", "lost"]
_DISPUTE_RANK: dict[str, int] = {"open": 0, "won": 1, "lost": 1}


class RefundFact(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int = Field(ge=0)
    state: RefundState


class PaymentFacts(BaseModel):
    """What is known about one provider payment; every field only grows under ``merge``."""

    model_config = ConfigDict(frozen=True)

    currency: str | None = None
    authorized_amount: int | None = Field(default=None, ge=0)
    captured_amount: int = Field(default=0, ge=0)
    refunds: Mapping[str, RefundFact] = Field(default_factory=dict)
    canceled: bool = False
    expired: bool = False
    failed: bool = False
    disputes: Mapping[str, DisputeState] = Field(default_factory=dict)
    authorized_at: datetime | None = None
    captured_at: datetime | None = None
    #: the latest validity the provider reported: a re-authorization (PAY.JP ``reauth``, a new
    #: Stripe ``capture_before``) moves it later, and the later one is the hold that exists now.
    #: Merged with max so any arrival order agrees; a reauth with fewer days than the hold had
    #: left (a shorter validity) is not followed — the provider still refuses a late capture
    authorization_expires_at: datetime | None = None
    failure_code: str | None = None

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    def merge(self, other: PaymentFacts) -> PaymentFacts:
        refunds = dict(self.refunds)
        for refund_id, fact in other.refunds.items():
            mine = refunds.get(refund_id)
            refunds[refund_id] = _later_refund(mine, fact) if mine else fact
        disputes = dict(self.disputes)
        for dispute_id, state in other.disputes.items():
            mine_state = disputes.get(dispute_id)
            if mine_state is None or _DISPUTE_RANK[state] > _DISPUTE_RANK[mine_state]:
                disputes[dispute_id] = state
            elif _DISPUTE_RANK[state] == _DISPUTE_RANK[mine_state] and state != mine_state:
                disputes[dispute_id] = "lost" if "lost" in (state, mine_state) else state
        return PaymentFacts(
            currency=self.currency or other.currency,
            authorized_amount=_max_opt(self.authorized_amount, other.authorized_amount),
            captured_amount=max(self.captured_amount, other.captured_amount),
            refunds=refunds,
            canceled=self.canceled or other.canceled,
            expired=self.expired or other.expired,
            failed=self.failed or other.failed,
            disputes=disputes,
            authorized_at=_min_opt(self.authorized_at, other.authorized_at),
            captured_at=_min_opt(self.captured_at, other.captured_at),
            authorization_expires_at=_max_opt(self.authorization_expires_at, other.authorization_expires_at),
            failure_code=self.failure_code or other.failure_code,
        )

    @property
    def refunded_amount(self) -> int:
        """Refunds that are pending or succeeded count; failed and canceled ones do not."""
        return sum(r.amount for r in self.refunds.values() if r.state in ("pending", "succeeded"))

    @property
    def amount(self) -> int:
        return max(self.authorized_amount or 0, self.captured_amount)

    def status(self) -> PaymentStatus:
        if any(state == "lost" for state in self.disputes.values()):
            return PaymentStatus.CHARGED_BACK
        if any(state == "open" for state in self.disputes.values()):
            return PaymentStatus.DISPUTED
        if self.captured_amount > 0:
            refunded = self.refunded_amount
            if refunded >= self.captured_amount:
                return PaymentStatus.REFUNDED
            if refunded > 0:
                return PaymentStatus.PARTIALLY_REFUNDED
            return PaymentStatus.CAPTURED
        if self.expired:
            return PaymentStatus.EXPIRED_REFUNDED
        if self.canceled:
            return PaymentStatus.CANCELED
        if self.failed:
            return PaymentStatus.FAILED
        if self.authorized_amount is not None:
            return PaymentStatus.AUTHORIZED
        return PaymentStatus.PENDING


def _later_refund(a: RefundFact, b: RefundFact) -> RefundFact:
    if _REFUND_RANK[b.state] > _REFUND_RANK[a.state]:
        return RefundFact(amount=max(a.amount, b.amount), state=b.state)
    if _REFUND_RANK[b.state] == _REFUND_RANK[a.state] and b.state != a.state:
        # failed and canceled rank alike; pick one deterministically so merge stays commutative
        return RefundFact(amount=max(a.amount, b.amount), state=min(a.state, b.state))
    return RefundFact(amount=max(a.amount, b.amount), state=a.state)


_Fact = TypeVar("_Fact", int, datetime)


def _max_opt(a: _Fact | None, b: _Fact | None) -> _Fact | None:
    """The larger of two optional facts; an unknown one (``None``) never wins."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _min_opt(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two optional instants; an unknown one (``None``) never wins."""
    if a is None or b is None:
        return _max_opt(a, b)
    return min(a, b)


class PaymentMetadata(BaseModel):
    """The contract-2 metadata a provider payment carries (SPEC §8)."""

    model_config = ConfigDict(frozen=True)

    store_id: str | None = None
    reservation_id: str | None = None
    visit_date: date | None = None
    accepted_at: datetime | None = None
    mcc: str | None = None
    #: the provider's own handle on the payment when it differs from the provider payment id
    #: (SBPS: the tracking id its API addresses, while the payment id is the merchant's order id)
    provider_reference: str | None = None
    #: the customer the provider keeps the card under, where it is the merchant's own id (SBPS:
    #: ``cust_code``, under which SBPS may hold the card for merchant-initiated charges)
    customer_reference: str | None = None

    def merge(self, other: PaymentMetadata) -> PaymentMetadata:
        """First known value wins: metadata set at creation is never rewritten by a later event."""
        return PaymentMetadata(
            store_id=self.store_id or other.store_id,
            reservation_id=self.reservation_id or other.reservation_id,
            visit_date=self.visit_date or other.visit_date,
            accepted_at=self.accepted_at or other.accepted_at,
            mcc=self.mcc or other.mcc,
            provider_reference=self.provider_reference or other.provider_reference,
            customer_reference=self.customer_reference or other.customer_reference,
        )


class EventKind(StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    UPDATED = "updated"
    REFUNDED = "refunded"
    REFUND_UPDATED = "refund_updated"
    CANCELED = "canceled"
    FAILED = "failed"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_CLOSED = "dispute_closed"
    AUTHORIZATION_EXPIRED = "authorization_expired"
    SNAPSHOT = "snapshot"


class CanonicalEvent(BaseModel):
    """One provider event (or one of our own decisions) reduced to the facts it proves."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    provider_payment_id: str = Field(min_length=1, max_length=255)
    event_id: str = Field(min_length=1, max_length=255)
    kind: EventKind
    occurred_at: datetime
    facts: PaymentFacts
    metadata: PaymentMetadata = Field(default_factory=PaymentMetadata)
    actor: str = "provider"


class HistoryEntry(BaseModel):
    """An immutable line of a payment's history: who/what, when, from, to."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    actor: str
    event_id: str
    kind: str
    from_status: PaymentStatus | None
    to_status: PaymentStatus
    captured_amount: int
    refunded_amount: int
    #: the facts and metadata this change taught (``facts.captured_at``, ``metadata.visit_date``…):
    #: an entry whose status did not move still says what did, so no ``X -> X`` entry is empty
    changes: tuple[str, ...] = ()


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: Provider
    provider_payment_id: str
    version: int = 0
    facts: PaymentFacts = Field(default_factory=PaymentFacts)
    metadata: PaymentMetadata = Field(default_factory=PaymentMetadata)
    status: PaymentStatus = PaymentStatus.PENDING
    capture_deadline: datetime | None = None
    deadline_bound: Literal["business", "authorization"] | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Applied(BaseModel):
    """The result of applying an event that changed something."""

    model_config = ConfigDict(frozen=True)

    payment: Payment
    history: HistoryEntry


def new_payment(event: CanonicalEvent) -> Payment:
    return Payment(
        provider=event.provider,
        provider_payment_id=event.provider_payment_id,
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
    )


def apply_event(payment: Payment, event: CanonicalEvent, *, now: datetime) -> Applied | None:
    """Merge the event's facts into the payment; ``None`` when it teaches nothing new.

    ``None`` is how duplicates, replays and stale events are recognized: no write, no history.
    """
    facts = payment.facts.merge(event.facts)
    metadata = payment.metadata.merge(event.metadata)
    changes = _changed("facts", payment.facts, facts) + _changed("metadata", payment.metadata, metadata)
    if not changes:
        return None
    status = facts.status()
    updated = payment.model_copy(
        update={
            "facts": facts,
            "metadata": metadata,
            "status": status,
            "version": payment.version + 1,
            "updated_at": now,
        }
    )
    entry = HistoryEntry(
        seq=payment.version + 1,
        at=now,
        actor=event.actor,
        event_id=event.event_id,
        kind=event.kind.value,
        from_status=payment.status if payment.version > 0 else None,
        to_status=status,
        captured_amount=facts.captured_amount,
        refunded_amount=facts.refunded_amount,
        changes=changes,
    )
    return Applied(payment=updated, history=entry)


def _changed(prefix: str, before: BaseModel, after: BaseModel) -> tuple[str, ...]:
    """The names of the fields that differ: what one change taught (empty when nothing)."""
    return tuple(
        f"{prefix}.{name}"
        for name in type(after).model_fields
        if getattr(before, name) != getattr(after, name)
    )
