"""Stripe's JSON shapes (API version 2024-06-20 and later) reduced to domain facts.

Pure: no I/O. The webhook processor turns a verified ``Event`` into one ``CanonicalEvent`` with
``to_canonical_event``; the API client (``client.py``) uses the same object mapping, so a webhook
and a re-fetch of the same payment produce facts that merge without double counting.

Two keys are chosen so that facts from webhooks and from the API agree:

* **Refunds.** Since API version 2022-11-15 a Charge no longer carries its ``refunds`` list unless
  expanded, and webhooks are never expanded, so ``charge.refunded`` only tells the total
  ``amount_refunded``. Every mapping therefore records the refunded total under one key per charge
  (``refund_total_key``), and individual refunds only when they failed or were canceled (they
  count zero towards the refunded amount, so they never double count).
* **Disputes.** A Stripe charge can be disputed once; a dispute is keyed by its charge id, which
  both the Dispute object and the Charge (``disputed``) name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cardops.kernel.calendar import TOKYO
from cardops.kernel.money import PlausibleAmount
from cardops.payments.domain.payments import (
    CanonicalEvent,
    DisputeState,
    EventKind,
    PaymentFacts,
    PaymentMetadata,
    RefundFact,
    RefundState,
)

_M = TypeVar("_M", bound=BaseModel)

SUPPORTED_EVENT_TYPES: Mapping[str, EventKind] = {
    "payment_intent.amount_capturable_updated": EventKind.AUTHORIZED,
    "payment_intent.succeeded": EventKind.CAPTURED,
    "payment_intent.canceled": EventKind.CANCELED,
    "charge.refunded": EventKind.REFUNDED,
    "charge.refund.updated": EventKind.REFUND_UPDATED,
    # the Refund object's own events (Stripe sends both families): a refund that fails after it
    # was created is what cardops must reverse (issue 12)
    "refund.updated": EventKind.REFUND_UPDATED,
    "refund.failed": EventKind.REFUND_UPDATED,
    "charge.dispute.created": EventKind.DISPUTE_OPENED,
    "charge.dispute.closed": EventKind.DISPUTE_CLOSED,
}

#: Cancellation reasons Stripe sets itself when an uncaptured authorization lapses.
_EXPIRY_CANCELLATION_REASONS = frozenset({"automatic", "expired"})
_MANUAL_CAPTURE_METHODS = frozenset({"manual", "automatic_async_manual", "manual_preferred"})

_REFUND_STATES: Mapping[str, RefundState] = {
    "pending": "pending",
    "requires_action": "pending",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
}
_DISPUTE_STATES: Mapping[str, DisputeState] = {
    "warning_needs_response": "open",
    "warning_under_review": "open",
    "needs_response": "open",
    "under_review": "open",
    "won": "won",
    # an inquiry closed without becoming a chargeback: the money stays with the merchant
    "warning_closed": "won",
    "lost": "lost",
}


class StripeEventError(ValueError):
    """A webhook event this module cannot turn into a canonical event."""


class UnsupportedEvent(StripeEventError):
    """A well-formed event of a type SPEC §1 does not use; acknowledge it and ignore it."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unsupported Stripe event type {event_type!r}")
        self.event_type = event_type


class MalformedEvent(StripeEventError):
    """The body is not a Stripe event of the shape its type promises."""


class _Obj(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StripeErrorDetail(_Obj):
    type: str | None = None
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


class StripeCard(_Obj):
    brand: str | None = None
    capture_before: int | None = None
    amount_authorized: PlausibleAmount | None = None


class StripePaymentMethodDetails(_Obj):
    type: str | None = None
    card: StripeCard | None = None


class StripeRefund(_Obj):
    id: str = Field(min_length=1)
    object: Literal["refund"]
    amount: PlausibleAmount
    charge: str | None = None
    payment_intent: str | None = None
    currency: str
    status: str | None = None
    reason: str | None = None
    created: int
    metadata: dict[str, str] = Field(default_factory=dict)


class StripeRefundList(_Obj):
    data: list[StripeRefund] = Field(default_factory=list)
    has_more: bool = False


class StripeCharge(_Obj):
    id: str = Field(min_length=1)
    object: Literal["charge"]
    amount: PlausibleAmount
    amount_captured: PlausibleAmount = 0
    amount_refunded: PlausibleAmount = 0
    captured: bool = False
    currency: str
    created: int
    customer: str | None = None
    disputed: bool = False
    metadata: dict[str, str] = Field(default_factory=dict)
    payment_intent: str | None = None
    payment_method: str | None = None
    payment_method_details: StripePaymentMethodDetails | None = None
    refunded: bool = False
    refunds: StripeRefundList | None = None
    status: str
    failure_code: str | None = None

    @property
    def card(self) -> StripeCard | None:
        return self.payment_method_details.card if self.payment_method_details else None


class StripePaymentIntent(_Obj):
    id: str = Field(min_length=1)
    object: Literal["payment_intent"]
    amount: PlausibleAmount
    amount_capturable: PlausibleAmount = 0
    amount_received: PlausibleAmount = 0
    capture_method: str = "automatic"
    currency: str
    created: int
    customer: str | None = None
    latest_charge: str | StripeCharge | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    payment_method: str | None = None
    status: str
    cancellation_reason: str | None = None
    last_payment_error: StripeErrorDetail | None = None

    @property
    def charge(self) -> StripeCharge | None:
        """The latest charge when it was expanded (API calls), ``None`` in webhooks."""
        return self.latest_charge if isinstance(self.latest_charge, StripeCharge) else None


class StripeCardSummary(_Obj):
    brand: str | None = None


class StripePaymentMethod(_Obj):
    """A saved card: reusable for a merchant-initiated charge while attached to its customer."""

    id: str = Field(min_length=1)
    object: Literal["payment_method"]
    type: str
    customer: str | None = None
    card: StripeCardSummary | None = None


class StripeInvoiceSettings(_Obj):
    default_payment_method: str | StripePaymentMethod | None = None


class StripeCustomer(_Obj):
    id: str = Field(min_length=1)
    object: Literal["customer"]
    deleted: bool = False
    invoice_settings: StripeInvoiceSettings | None = None

    @property
    def default_payment_method(self) -> StripePaymentMethod | None:
        """The default card when it was expanded."""
        found = self.invoice_settings.default_payment_method if self.invoice_settings else None
        return found if isinstance(found, StripePaymentMethod) else None


class StripeDispute(_Obj):
    id: str = Field(min_length=1)
    object: Literal["dispute"]
    amount: PlausibleAmount
    charge: str = Field(min_length=1)
    currency: str
    payment_intent: str | None = None
    status: str
    reason: str | None = None
    created: int


class StripeEventData(_Obj):
    object: dict[str, Any]


class StripeEvent(_Obj):
    id: str = Field(min_length=1, max_length=255)
    object: Literal["event"]
    type: str
    created: int
    api_version: str | None = None
    livemode: bool = False
    data: StripeEventData


def refund_total_key(charge_id: str) -> str:
    """The refund-fact key under which a charge's ``amount_refunded`` is recorded."""
    return f"{charge_id}:amount_refunded"


def stripe_time(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def metadata_from(raw: Mapping[str, str]) -> PaymentMetadata:
    """Contract-2 metadata (SPEC §8). A naive ``accepted_at`` is read as Asia/Tokyo time."""
    try:
        visit = raw.get("visit_date")
        accepted = raw.get("accepted_at")
        accepted_at = datetime.fromisoformat(accepted) if accepted else None
        if accepted_at is not None and accepted_at.tzinfo is None:
            accepted_at = accepted_at.replace(tzinfo=TOKYO)
        return PaymentMetadata(
            store_id=raw.get("store_id") or None,
            reservation_id=raw.get("reservation_id") or None,
            visit_date=date.fromisoformat(visit) if visit else None,
            accepted_at=accepted_at,
            mcc=(raw.get("mcc") or "").strip() or None,
        )
    except ValueError as exc:
        raise MalformedEvent(f"invalid payment metadata: {exc}") from exc


def facts_from_charge(charge: StripeCharge) -> PaymentFacts:
    """What a Charge proves: the authorization, the capture, refunds and a dispute."""
    card = charge.card
    # a charge "succeeded" once the issuer approved it, captured or not
    authorized = charge.status == "succeeded"
    authorized_amount: int | None = None
    if authorized:
        authorized_amount = card.amount_authorized if card and card.amount_authorized else charge.amount
    refunds: dict[str, RefundFact] = {}
    listed = charge.refunds.data if charge.refunds else []
    if charge.amount_refunded > 0:
        pending = any(_REFUND_STATES.get(r.status or "", "pending") == "pending" for r in listed)
        refunds[refund_total_key(charge.id)] = RefundFact(
            amount=charge.amount_refunded, state="pending" if pending else "succeeded"
        )
    for refund in listed:
        fact = _individual_refund_fact(refund)
        if fact is not None:
            refunds[refund.id] = fact
    return PaymentFacts(
        currency=charge.currency,
        authorized_amount=authorized_amount,
        captured_amount=charge.amount_captured if charge.captured else 0,
        refunds=refunds,
        failed=charge.status == "failed",
        failure_code=charge.failure_code,
        disputes={charge.id: "open"} if charge.disputed else {},
        authorized_at=stripe_time(charge.created) if authorized else None,
        authorization_expires_at=(
            stripe_time(card.capture_before) if card and card.capture_before and not charge.captured else None
        ),
    )


def facts_from_payment_intent(
    intent: StripePaymentIntent, *, observed_at: datetime | None = None
) -> PaymentFacts:
    """What a PaymentIntent proves; ``observed_at`` dates an authorization a webhook reports."""
    charge = intent.charge
    base = facts_from_charge(charge) if charge is not None else PaymentFacts()
    authorized_amount: int | None = None
    authorized_at: datetime | None = None
    captured_at: datetime | None = None
    if intent.status == "requires_capture":
        authorized_amount = intent.amount_capturable
        authorized_at = observed_at
    elif intent.status == "succeeded":
        authorized_amount = intent.amount
        if intent.capture_method not in _MANUAL_CAPTURE_METHODS:
            # an automatic capture authorizes and captures in the same instant
            authorized_at = observed_at
        captured_at = observed_at
    canceled = intent.status == "canceled"
    expired = (
        canceled
        and intent.cancellation_reason in _EXPIRY_CANCELLATION_REASONS
        and intent.capture_method in _MANUAL_CAPTURE_METHODS
    )
    error = intent.last_payment_error
    failed = intent.status == "requires_payment_method" and error is not None
    own = PaymentFacts(
        currency=intent.currency,
        authorized_amount=authorized_amount,
        captured_amount=intent.amount_received,
        canceled=canceled,
        expired=expired,
        failed=failed,
        failure_code=(error.decline_code or error.code) if failed and error else None,
        authorized_at=authorized_at,
        captured_at=captured_at if intent.amount_received > 0 else None,
    )
    return base.merge(own)


def _individual_refund_fact(refund: StripeRefund) -> RefundFact | None:
    state = _REFUND_STATES.get(refund.status or "")
    if state in ("failed", "canceled"):
        return RefundFact(amount=refund.amount, state=state)
    return None


def parse_event(raw: bytes | str) -> CanonicalEvent:
    """A verified webhook body (the raw bytes) as one canonical event."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedEvent("body is not a JSON object")
    return to_canonical_event(payload)


def to_canonical_event(payload: Mapping[str, Any]) -> CanonicalEvent:
    """One Stripe ``Event`` (SPEC §1's types) as one canonical event.

    Raises ``UnsupportedEvent`` for other types (answer 200 and drop them) and ``MalformedEvent``
    when the event or its object does not have the expected shape.
    """
    event = _validate(StripeEvent, payload, "event")
    kind = SUPPORTED_EVENT_TYPES.get(event.type)
    if kind is None:
        raise UnsupportedEvent(event.type)
    occurred_at = stripe_time(event.created)
    obj = event.data.object
    if event.type.startswith("payment_intent."):
        intent = _validate(StripePaymentIntent, obj, event.type)
        facts = facts_from_payment_intent(intent, observed_at=occurred_at)
        if kind is EventKind.CANCELED and facts.expired:
            kind = EventKind.AUTHORIZATION_EXPIRED
        return _event(event, kind, intent.id, facts, metadata_from(intent.metadata))
    if event.type == "charge.refunded":
        charge = _validate(StripeCharge, obj, event.type)
        return _event(
            event,
            kind,
            _intent_id(charge.payment_intent, event),
            facts_from_charge(charge),
            metadata_from(charge.metadata),
        )
    if kind is EventKind.REFUND_UPDATED:
        refund = _validate(StripeRefund, obj, event.type)
        individual = _individual_refund_fact(refund)
        facts = PaymentFacts(currency=refund.currency, refunds={refund.id: individual} if individual else {})
        return _event(event, kind, _intent_id(refund.payment_intent, event), facts, PaymentMetadata())
    dispute = _validate(StripeDispute, obj, event.type)
    state = _DISPUTE_STATES.get(dispute.status)
    if state is None:
        raise MalformedEvent(f"unknown dispute status {dispute.status!r}")
    if kind is EventKind.DISPUTE_CLOSED and state == "open":
        raise MalformedEvent(f"charge.dispute.closed with open status {dispute.status!r}")
    facts = PaymentFacts(currency=dispute.currency, disputes={dispute.charge: state})
    return _event(event, kind, _intent_id(dispute.payment_intent, event), facts, PaymentMetadata())


def _event(
    event: StripeEvent, kind: EventKind, payment_id: str, facts: PaymentFacts, metadata: PaymentMetadata
) -> CanonicalEvent:
    try:
        return CanonicalEvent(
            provider="stripe",
            provider_payment_id=payment_id,
            event_id=event.id,
            kind=kind,
            occurred_at=stripe_time(event.created),
            facts=facts,
            metadata=metadata,
        )
    except ValidationError as exc:
        raise MalformedEvent(f"{event.type}: {_first_error(exc)}") from exc


def _intent_id(payment_intent: str | None, event: StripeEvent) -> str:
    if not payment_intent:
        # charges created without a PaymentIntent are not ours: every booking uses one
        raise MalformedEvent(f"{event.type} {event.id} names no payment_intent")
    return payment_intent


def _validate(model: type[_M], value: Any, what: str) -> _M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise MalformedEvent(f"{what}: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{location}: {first['msg']}"
