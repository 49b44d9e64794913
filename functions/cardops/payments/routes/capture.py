"""Admin routes: capture an authorization, the store's uncaptured sales (SPEC §3, §8 contract 2).

The capture refusals become clear 4xx answers in ``cardops.api.errors``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel import clock
from cardops.kernel.identity import caller
from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT
from cardops.payments.routes.payments import PaymentIdPath, ProviderPath
from cardops.payments.routes.views import PaymentView, payment_view
from cardops.payments.use_cases import capture
from cardops.payments.wiring import capture_deps, payment_records

router = Router()  # type: ignore[no-untyped-call]

StoreIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class CaptureInput(BaseModel):
    """``amount`` ≤ the authorized amount (minor units); omitted: capture all. The rest is released."""

    model_config = ConfigDict(extra="forbid")

    #: strict: ``true``, ``1.0`` or ``"100"`` is a 422 naming the field, never a capture of ¥1 or ¥100
    amount: int | None = Field(default=None, gt=0, le=MAX_PLAUSIBLE_AMOUNT, strict=True)


class UncapturedView(BaseModel):
    provider: str
    provider_payment_id: str
    amount: int
    currency: str | None
    capture_deadline: datetime | None
    deadline_bound: str | None
    hours_left: float | None
    reservation_id: str | None
    visit_date: str | None


class UncapturedList(BaseModel):
    store_id: str
    count: int
    payments: list[UncapturedView]


@router.post("/admin/payments/<provider>/<provider_payment_id>/capture", tags=["payments"])
def capture_payment(
    provider: ProviderPath,
    provider_payment_id: PaymentIdPath,
    body: Annotated[CaptureInput | None, Body()] = None,
) -> PaymentView:
    """Capture all or part of an authorization before its capture deadline (認証期日)."""
    amount = body.amount if body else None
    capture.capture(
        capture_deps(),
        provider,
        provider_payment_id,
        amount=amount,
        now=clock.now(),
        actor=caller(router.current_event),
    )
    found = payment_records().detail(provider, provider_payment_id)
    if found is None:
        raise capture.PaymentNotFound(provider, provider_payment_id)
    return payment_view(found.payment, found.history, found.notes)


@router.get("/admin/stores/<store_id>/uncaptured", tags=["payments"])
def uncaptured(store_id: StoreIdPath) -> UncapturedList:
    """The store's open authorizations, earliest deadline first (未認証の売上があります)."""
    now = clock.now()
    rows = []
    for p in payment_records().uncaptured(store_id):
        deadline = p.capture_deadline
        rows.append(
            UncapturedView(
                provider=p.provider,
                provider_payment_id=p.provider_payment_id,
                amount=p.facts.amount,
                currency=p.facts.currency,
                capture_deadline=deadline,
                deadline_bound=p.deadline_bound,
                hours_left=round((deadline - now).total_seconds() / 3600, 1) if deadline else None,
                reservation_id=p.metadata.reservation_id,
                visit_date=p.metadata.visit_date.isoformat() if p.metadata.visit_date else None,
            )
        )
    return UncapturedList(store_id=store_id, count=len(rows), payments=rows)
