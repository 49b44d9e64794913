"""The JSON shapes the admin API answers with (SPEC §8 contract 3): stable, documented, typed."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from cardops.payments.domain.payment_notes import Notice, PaymentLink, PaymentNotes
from cardops.payments.domain.payments import HistoryEntry, Payment
from cardops.payments.domain.reservations import Reservation


class HistoryView(BaseModel):
    seq: int
    at: datetime
    actor: str
    event_id: str
    kind: str
    from_status: str | None
    to_status: str
    captured_amount: int
    refunded_amount: int
    changes: list[str] = []


class PaymentRefView(BaseModel):
    """Another payment this one is linked to by a re-payment (SPEC §4), and the request that did it."""

    provider: str
    provider_payment_id: str
    request_id: str
    at: datetime

    @classmethod
    def of(cls, link: PaymentLink) -> PaymentRefView:
        return cls(
            provider=link.provider,
            provider_payment_id=link.provider_payment_id,
            request_id=link.request_id,
            at=link.at,
        )


class PaymentView(BaseModel):
    provider: str
    provider_payment_id: str
    status: str
    currency: str | None
    amount: int
    authorized_amount: int | None
    captured_amount: int
    refunded_amount: int
    capture_deadline: datetime | None
    deadline_bound: str | None
    store_id: str | None
    reservation_id: str | None
    visit_date: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    history: list[HistoryView]
    #: notices sent about it (capture reminders, the automatic refund), oldest first
    notices: list[Notice] = []
    #: the expired payment this re-payment replaces (SPEC §4)
    repayment_of: PaymentRefView | None = None
    #: the re-payments that replaced this payment after its automatic refund
    repaid_by: list[PaymentRefView] = []


def payment_view(
    payment: Payment, history: list[HistoryEntry], notes: PaymentNotes | None = None
) -> PaymentView:
    facts = payment.facts
    notes = notes or PaymentNotes()
    repayment_of = [PaymentRefView.of(link) for link in notes.links if link.relation == "repayment_of"]
    return PaymentView(
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id,
        status=payment.status.value,
        currency=facts.currency,
        amount=facts.amount,
        authorized_amount=facts.authorized_amount,
        captured_amount=facts.captured_amount,
        refunded_amount=facts.refunded_amount,
        capture_deadline=payment.capture_deadline,
        deadline_bound=payment.deadline_bound,
        store_id=payment.metadata.store_id,
        reservation_id=payment.metadata.reservation_id,
        visit_date=payment.metadata.visit_date,
        version=payment.version,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        history=[HistoryView.model_validate(h.model_dump()) for h in history],
        notices=list(notes.notices),
        repayment_of=repayment_of[0] if repayment_of else None,
        repaid_by=[PaymentRefView.of(link) for link in notes.links if link.relation == "repaid_by"],
    )


class ReservationView(BaseModel):
    reservation_id: str
    store_id: str
    holder_name: str
    email: str
    tel: str | None
    reserved_at: datetime
    amount: int
    currency: str
    tax_treatment: str
    established: bool
    updated_at: datetime

    @classmethod
    def from_reservation(cls, reservation: Reservation) -> ReservationView:
        return cls.model_validate(reservation.model_dump())
