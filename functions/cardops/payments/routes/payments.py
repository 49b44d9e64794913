"""Admin routes for payments and reservations (SPEC §8 contracts 2–3)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from cardops.kernel import clock
from cardops.payments.domain.reservations import Reservation, ReservationInput
from cardops.payments.providers import registry
from cardops.payments.routes.views import PaymentView, ReservationView, payment_view
from cardops.payments.wiring import payment_records

router = Router()  # type: ignore[no-untyped-call]

ProviderPath = Annotated[
    str, Path(pattern=registry.name_pattern(stand_in=True), description="payment provider")
]
PaymentIdPath = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_:-]+$")]
ReservationIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


@router.get("/admin/payments/<provider>/<provider_payment_id>", tags=["payments"])
def get_payment(provider: ProviderPath, provider_payment_id: PaymentIdPath) -> PaymentView:
    found = payment_records().detail(provider, provider_payment_id)
    if found is None:
        raise NotFoundError(f"payment {provider}/{provider_payment_id} not found")
    return payment_view(found.payment, found.history, found.notes)


@router.put("/admin/reservations/<reservation_id>", tags=["reservations"])
def put_reservation(
    reservation_id: ReservationIdPath, body: Annotated[ReservationInput, Body()]
) -> ReservationView:
    reservation = Reservation(**body.model_dump(), reservation_id=reservation_id, updated_at=clock.now())
    payment_records().put_reservation(reservation)
    return ReservationView.from_reservation(reservation)


@router.get("/admin/reservations/<reservation_id>", tags=["reservations"])
def get_reservation(reservation_id: ReservationIdPath) -> ReservationView:
    reservation = payment_records().reservation(reservation_id)
    if reservation is None:
        raise NotFoundError(f"reservation {reservation_id} not found")
    return ReservationView.from_reservation(reservation)
