"""Refunds and their corrections (SPEC §5; the Oracle manual card-refund article, seed 001).

A refund moves ``requested → submitted → succeeded | rejected``; before submission it can be
``canceled``, and it becomes ``reversed`` when a correction replaces it (amount change) or the
provider takes a submitted refund back. A succeeded refund can still end ``rejected``: the card
company may return it after the provider accepted it (an expired card that was not reissued).

Money: the refund is debited from the store's ledger when it is *requested*, so a payout can never
pay out money that is on its way back to the customer; every path that undoes a refund posts
``reversal`` entries instead of editing or deleting anything. Corrections never edit history:

- before submission: ``cancel_refund`` (reverse it), or ``change_refund_amount`` (the old refund is
  reversed and a new one with the right amount is created, linked both ways);
- submitted, not yet settled: ``reverse_submitted_refund``, only where the provider can take a
  refund back (``ProviderCapabilities.refund_reversal``);
- after it succeeded: ``issue_debit_memo`` claims the amount back from the customer; the refund
  stays as it was, and the collected money later arrives as a new charge (a new sale).

The sum of refunds that are not canceled, rejected or reversed never exceeds the captured amount
(``check_refund_within_captured``). Under concurrent requests persistence enforces the same sum with
a conditional write on the payment (``refunds_counted`` + amount ≤ captured amount).

Every operation is a pure function returning a ``RefundChange``: refunds to write (each guarded by
its ``version``), ledger entries to post, alerts to publish. Repeating an operation whose effect is
already there returns an empty change, so retries are harmless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cardops.kernel.money import normalize_currency
from cardops.ledger.domain.fees import PlanConfig, refund_entries
from cardops.ledger.domain.ledger import (
    PROVIDER_CHANNEL,
    Cause,
    CauseKind,
    Channel,
    Ledger,
    LedgerEntry,
    reversal_of,
)
from cardops.payments.domain.payments import Payment, PaymentStatus, RefundFact, RefundState


class RefundReason(StrEnum):
    """Why a refund is made; an enumerated list so finance can report on it (SPEC §5)."""

    CUSTOMER_REQUEST = "customer_request"  # the customer asked (change of plans, within policy)
    DUPLICATE = "duplicate"  # the same booking was charged twice
    FRAUDULENT = "fraudulent"  # the card holder did not make the payment
    STORE_CANCELLATION = "store_cancellation"  # the store canceled the reservation or cannot serve it
    OVERCHARGE = "overcharge"  # more was charged than owed (wrong price, tax or currency)
    SERVICE_ISSUE = "service_issue"  # the service was not delivered as booked (compensation)
    OTHER = "other"  # anything else; the note must say what


class RefundSource(StrEnum):
    """Who made the refund: an admin through cardops, or someone at the provider (its dashboard or
    console), which cardops learns from the payment's facts (``payments.domain.provider_refunds``)."""

    CARDOPS = "cardops"
    PROVIDER = "provider"


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    SUBMITTED = "submitted"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    CANCELED = "canceled"
    REVERSED = "reversed"


#: The only moves a refund can make. Terminal states have none.
ALLOWED_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.REQUESTED: frozenset({RefundStatus.SUBMITTED, RefundStatus.CANCELED, RefundStatus.REVERSED}),
    RefundStatus.SUBMITTED: frozenset({RefundStatus.SUCCEEDED, RefundStatus.REJECTED, RefundStatus.REVERSED}),
    RefundStatus.SUCCEEDED: frozenset({RefundStatus.REJECTED}),
    RefundStatus.REJECTED: frozenset(),
    RefundStatus.CANCELED: frozenset(),
    RefundStatus.REVERSED: frozenset(),
}

#: Refunds in these states count against the captured amount.
COUNTED_STATUSES = frozenset({RefundStatus.REQUESTED, RefundStatus.SUBMITTED, RefundStatus.SUCCEEDED})

_FACT_STATE: dict[RefundStatus, RefundState] = {
    RefundStatus.REQUESTED: "pending",
    RefundStatus.SUBMITTED: "pending",
    RefundStatus.SUCCEEDED: "succeeded",
    RefundStatus.REJECTED: "failed",
    RefundStatus.CANCELED: "canceled",
    RefundStatus.REVERSED: "canceled",
}


class RefundError(ValueError):
    """A refund rule was broken; subclasses name which."""


class RefundExceedsCapturedError(RefundError):
    def __init__(self, *, requested: int, captured: int, refunded: int, currency: str) -> None:
        self.requested = requested
        self.captured = captured
        self.refunded = refunded
        self.remaining = max(captured - refunded, 0)
        self.currency = currency
        super().__init__(
            f"refund of {requested} {currency} exceeds what is refundable: captured {captured}, "
            f"already refunded {refunded}, remaining refundable {self.remaining}"
        )


class InvalidRefundTransitionError(RefundError):
    def __init__(self, refund_id: str, current: RefundStatus, wanted: RefundStatus) -> None:
        self.refund_id = refund_id
        self.current = current
        self.wanted = wanted
        super().__init__(f"refund {refund_id} is {current.value}; it cannot become {wanted.value}")


class PaymentNotRefundableError(RefundError):
    """Only a captured payment (captured or partially refunded) can be refunded."""


class RefundReversalNotSupportedError(RefundError):
    def __init__(self, provider: str) -> None:
        self.provider = provider
        super().__init__(
            f"{provider} cannot take back a submitted refund; wait for its result and, once it "
            "succeeded, issue a debit memo"
        )


class DebitMemoError(RefundError):
    """A debit memo only claims back a refund that succeeded, and at most its amount."""


class ProviderCapabilities(BaseModel):
    """What a provider's API allows for refunds."""

    model_config = ConfigDict(frozen=True)

    #: a submitted, not yet settled refund can be taken back (canceled) at the provider
    refund_reversal: bool = False


class RefundReport(BaseModel):
    """What a provider's facts say of the refunds cardops submitted (``ProviderPlugin.refund_report``):
    each provider reports refunds its own way, and the refunds use case reads them through this."""

    model_config = ConfigDict(frozen=True)

    #: the provider's running total of settled refunds, where it reports one (PAY.JP): submitted
    #: refunds it covers have succeeded
    settled_total: int | None = None
    #: the provider's ids of refunds that failed or were canceled after submission (Stripe): the
    #: cardops refund submitted under that id is rejected, its ledger debit reversed
    failed: frozenset[str] = frozenset()


class RefundTransition(BaseModel):
    """A line of a refund's own history (who/what, when, from, to)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    actor: str
    from_status: RefundStatus | None
    to_status: RefundStatus
    note: str = ""


class Refund(BaseModel):
    model_config = ConfigDict(frozen=True)

    refund_id: str
    provider: str
    provider_payment_id: str
    store_id: str
    channel: Channel
    currency: str
    amount: int = Field(gt=0)
    reason: RefundReason
    note: str = ""
    status: RefundStatus
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime
    provider_refund_id: str | None = None
    #: the card had expired when the refund was submitted (it is submitted anyway, see seed 001)
    card_expired: bool = False
    replaces: str | None = None
    replaced_by: str | None = None
    history: tuple[RefundTransition, ...] = ()
    source: RefundSource = RefundSource.CARDOPS

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @property
    def counts_against_capture(self) -> bool:
        return self.status in COUNTED_STATUSES

    @property
    def cause(self) -> Cause:
        return Cause(kind=CauseKind.REFUND, id=self.refund_id)

    def to_fact(self) -> RefundFact:
        """The refund as a payment fact, so the payment's refunded amount follows it (SPEC §2)."""
        return RefundFact(amount=self.amount, state=_FACT_STATE[self.status])


class RefundTarget(BaseModel):
    """What a refund needs to know about its payment."""

    model_config = ConfigDict(frozen=True)

    provider: str
    provider_payment_id: str
    store_id: str
    channel: Channel
    currency: str
    captured_amount: int = Field(ge=0)

    @classmethod
    def from_payment(cls, payment: Payment) -> RefundTarget:
        if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
            raise PaymentNotRefundableError(
                f"payment {payment.provider_payment_id} is {payment.status.value}; only a captured "
                "payment can be refunded"
            )
        store_id = payment.metadata.store_id
        currency = payment.facts.currency
        if not store_id or not currency:
            raise PaymentNotRefundableError(f"payment {payment.provider_payment_id} has no store or currency")
        return cls(
            provider=payment.provider,
            provider_payment_id=payment.provider_payment_id,
            store_id=store_id,
            channel=PROVIDER_CHANNEL[payment.provider],
            currency=currency,
            captured_amount=payment.facts.captured_amount,
        )


class FinanceAlert(BaseModel):
    """An event for finance: a refund the card company rejected was reversed and needs follow-up, or
    a refund was made at the provider, outside cardops, and is now on the store's ledger."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    kind: Literal["refund_rejected", "provider_refund"] = "refund_rejected"
    refund_id: str
    store_id: str
    channel: Channel
    provider: str
    provider_payment_id: str
    amount: int
    currency: str
    card_expired: bool
    detail: str
    at: datetime


class DebitMemo(BaseModel):
    """A claim on the customer for money refunded by mistake after the refund succeeded."""

    model_config = ConfigDict(frozen=True)

    memo_id: str
    refund_id: str
    store_id: str
    channel: Channel
    provider: str
    provider_payment_id: str
    amount: int = Field(gt=0)
    currency: str
    note: str
    created_at: datetime
    #: who issued it (the admin API's IAM caller)
    created_by: str | None = None


class RefundChange(BaseModel):
    """What an operation decided: ``refund`` is the result; the rest is what to persist and publish."""

    model_config = ConfigDict(frozen=True)

    refund: Refund
    changed: tuple[Refund, ...] = ()
    entries: tuple[LedgerEntry, ...] = ()
    alerts: tuple[FinanceAlert, ...] = ()
    debit_memo: DebitMemo | None = None


class RefundCommand(BaseModel):
    """An admin's refund request; the idempotency key makes a repeated request the same refund."""

    model_config = ConfigDict(frozen=True)

    amount: int = Field(gt=0)
    reason: RefundReason
    idempotency_key: str = Field(min_length=1, max_length=255)
    #: who asked (the admin API's IAM caller); no default, so no change goes unattributed
    actor: str = Field(min_length=1)
    note: str = ""


def refund_id_for(provider: str, provider_payment_id: str, key: str) -> str:
    digest = hashlib.sha256(f"{provider}\x1f{provider_payment_id}\x1f{key}".encode()).hexdigest()
    return f"rf_{digest[:24]}"


def refunds_counted(refunds: Sequence[Refund], *, excluding: str | None = None) -> int:
    """The sum of refunds that count against the capture (not canceled, rejected or reversed)."""
    return sum(r.amount for r in refunds if r.counts_against_capture and r.refund_id != excluding)


def check_refund_within_captured(
    target: RefundTarget, refunds: Sequence[Refund], amount: int, *, excluding: str | None = None
) -> int:
    """Raise ``RefundExceedsCapturedError`` unless ``amount`` fits; returns what remains after it."""
    counted = refunds_counted(refunds, excluding=excluding)
    if amount <= 0 or counted + amount > target.captured_amount:
        raise RefundExceedsCapturedError(
            requested=amount, captured=target.captured_amount, refunded=counted, currency=target.currency
        )
    return target.captured_amount - counted - amount


def request_refund(
    target: RefundTarget,
    existing: Sequence[Refund],
    command: RefundCommand,
    plan: PlanConfig,
    *,
    now: datetime,
) -> RefundChange:
    """Create a refund in ``requested`` and debit the store's ledger for it."""
    refund_id = refund_id_for(target.provider, target.provider_payment_id, command.idempotency_key)
    for refund in existing:
        if refund.refund_id == refund_id:
            return RefundChange(refund=refund)
    return _new_refund(
        target,
        existing,
        refund_id=refund_id,
        amount=command.amount,
        reason=command.reason,
        note=command.note,
        actor=command.actor,
        plan=plan,
        now=now,
    )


def submit_refund(
    refund: Refund,
    *,
    now: datetime,
    card_expired: bool = False,
    provider_refund_id: str | None = None,
    actor: str = "system",
) -> RefundChange:
    """Hand the refund to the provider. An expired card does not stop it: cards are usually reissued
    with a new expiry date, and if not, the card company rejects it and it is reversed then."""
    note = "card expired; submitted anyway (cards are usually reissued)" if card_expired else ""
    updated = _move(refund, RefundStatus.SUBMITTED, now=now, actor=actor, note=note)
    if updated is None:
        return RefundChange(refund=refund)
    updated = updated.model_copy(
        update={"card_expired": card_expired, "provider_refund_id": provider_refund_id}
    )
    return RefundChange(refund=updated, changed=(updated,))


def mark_refund_succeeded(refund: Refund, *, now: datetime, actor: str = "provider") -> RefundChange:
    updated = _move(refund, RefundStatus.SUCCEEDED, now=now, actor=actor)
    if updated is None:
        return RefundChange(refund=refund)
    return RefundChange(refund=updated, changed=(updated,))


def mark_refund_rejected(
    refund: Refund, ledger: Ledger, *, now: datetime, detail: str = "", actor: str = "provider"
) -> RefundChange:
    """The card company rejected the refund: the store's ledger gets the money back (reversal
    entries) and finance is alerted, because the customer still has not been repaid."""
    updated = _move(refund, RefundStatus.REJECTED, now=now, actor=actor, note=detail)
    if updated is None:
        return RefundChange(refund=refund)
    alert = FinanceAlert(
        alert_id=f"refund_rejected:{refund.refund_id}",
        refund_id=refund.refund_id,
        store_id=refund.store_id,
        channel=refund.channel,
        provider=refund.provider,
        provider_payment_id=refund.provider_payment_id,
        amount=refund.amount,
        currency=refund.currency,
        card_expired=refund.card_expired,
        detail=detail or "refund rejected by the card company",
        at=now,
    )
    return RefundChange(
        refund=updated,
        changed=(updated,),
        entries=_reversals(refund, ledger, now=now, memo="refund rejected by the card company"),
        alerts=(alert,),
    )


def cancel_refund(refund: Refund, ledger: Ledger, *, now: datetime, actor: str) -> RefundChange:
    """Correction before submission: the refund is canceled and its ledger entries reversed."""
    updated = _move(refund, RefundStatus.CANCELED, now=now, actor=actor)
    if updated is None:
        return RefundChange(refund=refund)
    entries = _reversals(refund, ledger, now=now, memo="refund canceled before submission")
    return RefundChange(refund=updated, changed=(updated,), entries=entries)


def change_refund_amount(
    refund: Refund,
    target: RefundTarget,
    existing: Sequence[Refund],
    new_amount: int,
    ledger: Ledger,
    plan: PlanConfig,
    *,
    now: datetime,
    actor: str,
) -> RefundChange:
    """Correction before submission: reverse the old refund and create a new one for ``new_amount``.

    The result's ``refund`` is the new refund; the old one is in ``changed`` as ``reversed``.
    """
    new_id = refund_id_for(refund.provider, refund.provider_payment_id, f"replaces:{refund.refund_id}")
    if refund.status is RefundStatus.REVERSED and refund.replaced_by == new_id:
        for other in existing:
            if other.refund_id == new_id:
                return RefundChange(refund=other)
    if refund.status is not RefundStatus.REQUESTED:
        raise InvalidRefundTransitionError(refund.refund_id, refund.status, RefundStatus.REVERSED)
    if new_amount == refund.amount:
        raise RefundError(f"refund {refund.refund_id} already has amount {new_amount}")
    check_refund_within_captured(target, existing, new_amount, excluding=refund.refund_id)
    old = _move(refund, RefundStatus.REVERSED, now=now, actor=actor, note=f"amount changed to {new_amount}")
    assert old is not None  # REQUESTED → REVERSED is allowed and is a change
    old = old.model_copy(update={"replaced_by": new_id})
    others = [r for r in existing if r.refund_id != refund.refund_id]
    created = _new_refund(
        target,
        others,
        refund_id=new_id,
        amount=new_amount,
        reason=refund.reason,
        note=refund.note,
        actor=actor,
        plan=plan,
        now=now,
        replaces=refund.refund_id,
    )
    reversals = _reversals(refund, ledger, now=now, memo=f"amount changed to {new_amount}")
    return RefundChange(
        refund=created.refund,
        changed=(old, created.refund),
        entries=reversals + created.entries,
    )


def reverse_submitted_refund(
    refund: Refund,
    ledger: Ledger,
    capabilities: ProviderCapabilities,
    *,
    now: datetime,
    actor: str,
) -> RefundChange:
    """Correction of a submitted, not yet settled refund: take it back where the provider allows."""
    if refund.status is RefundStatus.REVERSED:
        return RefundChange(refund=refund)
    if refund.status is not RefundStatus.SUBMITTED:
        raise InvalidRefundTransitionError(refund.refund_id, refund.status, RefundStatus.REVERSED)
    if not capabilities.refund_reversal:
        raise RefundReversalNotSupportedError(refund.provider)
    updated = _move(refund, RefundStatus.REVERSED, now=now, actor=actor, note="taken back before settlement")
    assert updated is not None
    entries = _reversals(refund, ledger, now=now, memo="refund reversed before settlement")
    return RefundChange(refund=updated, changed=(updated,), entries=entries)


def issue_debit_memo(
    refund: Refund, *, now: datetime, actor: str, amount: int | None = None, note: str = ""
) -> RefundChange:
    """Correction after the refund succeeded: claim the amount back from the customer.

    The refund and the ledger stay as they are; what the customer pays is a new charge.
    """
    if refund.status is not RefundStatus.SUCCEEDED:
        raise DebitMemoError(
            f"refund {refund.refund_id} is {refund.status.value}; a debit memo needs a succeeded refund"
        )
    claimed = refund.amount if amount is None else amount
    if not 0 < claimed <= refund.amount:
        raise DebitMemoError(f"a debit memo claims 1–{refund.amount} {refund.currency}, not {claimed}")
    memo = DebitMemo(
        memo_id=f"dm_{refund.refund_id}",
        refund_id=refund.refund_id,
        store_id=refund.store_id,
        channel=refund.channel,
        provider=refund.provider,
        provider_payment_id=refund.provider_payment_id,
        amount=claimed,
        currency=refund.currency,
        note=note or "refund made in error; amount claimed back from the customer",
        created_at=now,
        created_by=actor,
    )
    return RefundChange(refund=refund, debit_memo=memo)


def _new_refund(
    target: RefundTarget,
    existing: Sequence[Refund],
    *,
    refund_id: str,
    amount: int,
    reason: RefundReason,
    note: str,
    actor: str,
    plan: PlanConfig,
    now: datetime,
    replaces: str | None = None,
) -> RefundChange:
    check_refund_within_captured(target, existing, amount)
    refund = Refund(
        refund_id=refund_id,
        provider=target.provider,
        provider_payment_id=target.provider_payment_id,
        store_id=target.store_id,
        channel=target.channel,
        currency=target.currency,
        amount=amount,
        reason=reason,
        note=note,
        status=RefundStatus.REQUESTED,
        version=1,
        created_at=now,
        updated_at=now,
        replaces=replaces,
        history=(RefundTransition(at=now, actor=actor, from_status=None, to_status=RefundStatus.REQUESTED),),
    )
    entries = refund_entries(
        store_id=target.store_id,
        channel=target.channel,
        currency=target.currency,
        refund_id=refund_id,
        amount=amount,
        plan=plan,
        now=now,
    )
    return RefundChange(refund=refund, changed=(refund,), entries=entries)


def _move(refund: Refund, to: RefundStatus, *, now: datetime, actor: str, note: str = "") -> Refund | None:
    """The refund in state ``to``; ``None`` when it already is (a retried or duplicate event)."""
    if refund.status is to:
        return None
    if to not in ALLOWED_TRANSITIONS[refund.status]:
        raise InvalidRefundTransitionError(refund.refund_id, refund.status, to)
    step = RefundTransition(at=now, actor=actor, from_status=refund.status, to_status=to, note=note)
    return refund.model_copy(
        update={
            "status": to,
            "version": refund.version + 1,
            "updated_at": now,
            "history": (*refund.history, step),
        }
    )


def _reversals(refund: Refund, ledger: Ledger, *, now: datetime, memo: str) -> tuple[LedgerEntry, ...]:
    """Reversals of the refund's open entries; the ledger must be the refund's and hold them."""
    if (ledger.store_id, ledger.channel) != (refund.store_id, refund.channel):
        raise RefundError(
            f"refund {refund.refund_id} is not in ledger {ledger.store_id}/{ledger.channel.value}"
        )
    if not any(e.cause == refund.cause for e in ledger.entries):
        raise RefundError(f"ledger holds no entries for refund {refund.refund_id}: load it before correcting")
    return tuple(reversal_of(e, now=now, memo=memo) for e in ledger.open_entries_for(refund.cause))
