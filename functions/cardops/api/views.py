"""The JSON shapes the admin API answers with (SPEC §8 contract 3): stable, documented, typed."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from cardops.domain.payments import HistoryEntry, Payment
from cardops.domain.reservations import Reservation


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


def payment_view(payment: Payment, history: list[HistoryEntry]) -> PaymentView:
    facts = payment.facts
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
