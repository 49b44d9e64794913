"""What support answers about a payment, from data cardops holds (seed 002, Issuing problems table).

* Authorization validity and why the store cannot void it: only the acquirer (the payment provider)
  voids an authorization; the cardholder cannot cancel a pending one. It lapses 7 days after it was
  made, 31 for hotels, airlines and car rental, and the issuer releases the held funds then.
* A missing refund: the refunds linked to the payment; when none is, refund candidates of the same
  merchant (store) with the same amount.
* A dispute's state, and the capture deadline with the bound that decided it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cardops.payments.domain.capture_deadline import AIRLINE_MCCS, DEFAULT_EXTENDED_HOLD_MCCS
from cardops.payments.domain.payments import Payment, PaymentStatus

#: seed 002: "オーソリは作成後 7 日 (ホテル、航空会社、レンタカー会社の場合は 31 日) で有効期限が切れ"
STANDARD_VALIDITY_DAYS = 7
EXTENDED_VALIDITY_DAYS = 31
#: hotels and car rental (the extended-hold categories without cruise lines) and airlines
EXTENDED_VALIDITY_MCCS = (DEFAULT_EXTENDED_HOLD_MCCS - {"4411"}) | AIRLINE_MCCS

ONLY_ACQUIRER = (
    "only the acquirer (the payment provider) can void an authorization; the cardholder cannot cancel "
    "a pending one, and the card issuer releases the held funds when it lapses"
)


class AuthorizationAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str
    authorized_at: datetime | None
    mcc: str | None
    validity_days: int
    #: when the issuer releases the hold at the latest (authorized_at + validity)
    lapses_at: datetime | None
    #: the provider's own reported validity, when it reported one
    provider_expires_at: datetime | None
    store_can_void: bool
    why: str


class LinkedRefund(BaseModel):
    model_config = ConfigDict(frozen=True)

    refund_id: str
    amount: int
    status: str
    at: datetime | None
    source: Literal["cardops", "provider"]


class RefundCandidate(BaseModel):
    """A refund of the same store (merchant) in the same currency, not linked to this payment."""

    model_config = ConfigDict(frozen=True)

    refund_id: str
    store_id: str
    amount: int
    currency: str
    at: datetime


class RefundAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    linked: list[LinkedRefund]
    #: only when nothing is linked: same merchant, same amount
    candidates: list[RefundCandidate]
    amount_searched: int


class DisputeAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: Literal["none", "open", "won", "lost"]
    disputes: dict[str, str]


class DeadlineAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    capture_deadline: datetime | None
    deadline_bound: str | None
    passed: bool
    explanation: str


class PaymentAnswers(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: str
    provider_payment_id: str
    store_id: str | None
    currency: str | None
    amount: int
    status: str
    authorization: AuthorizationAnswer
    refunds: RefundAnswer
    dispute: DisputeAnswer
    deadline: DeadlineAnswer


def validity_days(mcc: str | None) -> int:
    return (
        EXTENDED_VALIDITY_DAYS
        if mcc is not None and mcc.strip() in EXTENDED_VALIDITY_MCCS
        else STANDARD_VALIDITY_DAYS
    )


def _why(payment: Payment, lapses_at: datetime | None, now: datetime) -> tuple[bool, str]:
    status = payment.status
    lapse = f" (by {lapses_at.isoformat()})" if lapses_at else ""
    if status is PaymentStatus.AUTHORIZED:
        if payment.capture_deadline is not None and now > payment.capture_deadline:
            return False, (
                "the capture deadline has passed: cardops cancels it automatically at the provider; "
                + ONLY_ACQUIRER
                + lapse
            )
        return True, (
            "the store can ask cardops to cancel it, which the acquirer carries out; even then "
            + ONLY_ACQUIRER
            + lapse
        )
    if status in (PaymentStatus.CANCELED, PaymentStatus.EXPIRED_REFUNDED):
        return False, (
            f"already voided at the provider ({status.value}); nothing is left for the store to void: "
            + ONLY_ACQUIRER
            + lapse
        )
    if status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        code = f" ({payment.facts.failure_code})" if payment.facts.failure_code else ""
        return False, f"the authorization was declined or is not complete{code}: no funds are held by it"
    return False, f"the payment is {status.value}: a captured payment is refunded, not voided"


def answer_for_payment(
    payment: Payment,
    *,
    refunds: Sequence[LinkedRefund],
    store_refunds: Sequence[RefundCandidate],
    now: datetime,
    amount: int | None = None,
) -> PaymentAnswers:
    facts = payment.facts
    days = validity_days(payment.metadata.mcc)
    lapses_at = facts.authorized_at + timedelta(days=days) if facts.authorized_at else None
    can_void, why = _why(payment, lapses_at, now)
    linked = list(refunds)
    known_ids = {r.refund_id for r in linked}
    for refund_id, fact in sorted(facts.refunds.items()):
        if refund_id not in known_ids:
            linked.append(
                LinkedRefund(
                    refund_id=refund_id, amount=fact.amount, status=fact.state, at=None, source="provider"
                )
            )
    searched = amount if amount is not None else (facts.captured_amount or facts.amount)
    candidates = (
        []
        if linked
        else sorted(
            (
                c
                for c in store_refunds
                if c.amount == searched
                and c.store_id == payment.metadata.store_id
                and c.currency == (facts.currency or c.currency)
                and c.refund_id not in known_ids
            ),
            key=lambda c: (c.at, c.refund_id),
        )
    )
    disputes = dict(sorted(facts.disputes.items()))
    state: Literal["none", "open", "won", "lost"] = "none"
    if "lost" in disputes.values():
        state = "lost"
    elif "open" in disputes.values():
        state = "open"
    elif disputes:
        state = "won"
    deadline = payment.capture_deadline
    passed = deadline is not None and now > deadline
    if deadline is None:
        explanation = "no capture deadline: the payment was never an open authorization"
    else:
        bound = (
            "the provider's authorization validity minus a safety margin"
            if payment.deadline_bound == "authorization"
            else "the business rule: end of the visit date + 7 days (Asia/Tokyo)"
        )
        explanation = f"capture by {deadline.isoformat()}, set by {bound}" + (
            "; it has passed" if passed else ""
        )
    return PaymentAnswers(
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id,
        store_id=payment.metadata.store_id,
        currency=facts.currency,
        amount=facts.amount,
        status=payment.status.value,
        authorization=AuthorizationAnswer(
            status=payment.status.value,
            authorized_at=facts.authorized_at,
            mcc=payment.metadata.mcc,
            validity_days=days,
            lapses_at=lapses_at,
            provider_expires_at=facts.authorization_expires_at,
            store_can_void=can_void,
            why=why,
        ),
        refunds=RefundAnswer(linked=linked, candidates=candidates, amount_searched=searched),
        dispute=DisputeAnswer(state=state, disputes=dict(disputes)),
        deadline=DeadlineAnswer(
            capture_deadline=deadline,
            deadline_bound=payment.deadline_bound,
            passed=passed,
            explanation=explanation,
        ),
    )
