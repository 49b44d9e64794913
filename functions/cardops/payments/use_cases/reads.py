"""Read-only questions other slices ask about a payment (support's case view), in one place.

Other slices read payments and their refunds here rather than from the payments store, so the
store can change shape without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cardops.payments.domain.payment_notes import PaymentNotes
from cardops.payments.domain.payments import HistoryEntry, Payment
from cardops.payments.domain.refunds import Refund
from cardops.payments.domain.reservations import Reservation
from cardops.payments.use_cases.refunds import PaymentLookup, PaymentNotFoundError


class RefundsOfPayment(Protocol):
    def of_payment(self, provider: str, payment_id: str) -> list[Refund]: ...


class PaymentReads:
    """Built by ``payments.wiring.payment_reads``."""

    def __init__(self, payments: PaymentLookup, refunds: RefundsOfPayment) -> None:
        self.payments = payments
        self.refunds = refunds

    def payment(self, provider: str, payment_id: str) -> Payment | None:
        return self.payments.get(provider, payment_id)

    def refunds_of(self, provider: str, payment_id: str) -> list[Refund]:
        """The refunds requested through cardops for the payment (none when the payment is unknown)."""
        try:
            return self.refunds.of_payment(provider, payment_id)
        except PaymentNotFoundError:
            return []


# -- the admin API's and the console's reads of payments and reservations -------------------------


class PaymentsWithHistory(Protocol):
    def get_with_history(
        self, provider: str, payment_id: str
    ) -> tuple[Payment, list[HistoryEntry]] | None: ...

    def list_uncaptured(self, store_id: str) -> list[Payment]:
        """Open authorizations of a store, earliest deadline first."""


class NotesOfPayment(Protocol):
    def notes(self, provider: str, payment_id: str) -> PaymentNotes: ...


class ReservationBook(Protocol):
    def get(self, reservation_id: str) -> Reservation | None: ...

    def put(self, reservation: Reservation) -> None: ...


@dataclass(frozen=True)
class PaymentDetail:
    """A payment as a person reads it: its facts, its history and what is noted on it."""

    payment: Payment
    history: list[HistoryEntry]
    notes: PaymentNotes


class PaymentRecords:
    """Built by ``payments.wiring.payment_records``: the routes and pages read through it."""

    def __init__(
        self, payments: PaymentsWithHistory, notes: NotesOfPayment, reservations: ReservationBook
    ) -> None:
        self.payments = payments
        self.notes = notes
        self.reservations = reservations

    def detail(self, provider: str, payment_id: str) -> PaymentDetail | None:
        found = self.payments.get_with_history(provider, payment_id)
        if found is None:
            return None
        return PaymentDetail(*found, self.notes.notes(provider, payment_id))

    def uncaptured(self, store_id: str) -> list[Payment]:
        return self.payments.list_uncaptured(store_id)

    def reservation(self, reservation_id: str) -> Reservation | None:
        return self.reservations.get(reservation_id)

    def put_reservation(self, reservation: Reservation) -> None:
        self.reservations.put(reservation)
