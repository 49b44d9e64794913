"""Admin routes for refunds and their corrections (SPEC §5; §8 contract 2).

``POST /admin/payments/{provider}/{provider_payment_id}/refunds`` answers the refund with its state:
201 when this request created it, 200 when the idempotency key named an existing refund. Refund
rule violations are 4xx JSON errors (mapped in ``cardops.api.errors``).
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel import clock
from cardops.kernel.identity import caller
from cardops.payments.domain.refunds import (
    DebitMemo,
    Refund,
    RefundReason,
)
from cardops.payments.providers import registry
from cardops.payments.use_cases.refunds import (
    RefundService,
    RefundSubmissionPendingError,
)

router = Router()  # type: ignore[no-untyped-call]

ProviderPath = Annotated[
    str, Path(pattern=registry.name_pattern(stand_in=True), description="payment provider")
]
PaymentIdPath = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_:-]+$")]
RefundIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^rf_[0-9a-f]+$")]
MAX_AMOUNT = 10**12


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=MAX_AMOUNT, strict=True, description="minor units of the payment currency")
    reason: RefundReason
    note: str = Field(default="", max_length=500)
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="repeat it to retry safely; one is generated when omitted",
    )


class AmendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=MAX_AMOUNT, strict=True)


class DebitMemoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(default=None, gt=0, le=MAX_AMOUNT, strict=True)
    note: str = Field(default="", max_length=500)


class RefundList(BaseModel):
    refunds: list[Refund]
    remaining_refundable: int | None


def _json(model: BaseModel, status: HTTPStatus = HTTPStatus.OK) -> Response[Any]:
    return Response(
        status_code=status.value, content_type=content_types.APPLICATION_JSON, body=model.model_dump_json()
    )


@router.post("/admin/payments/<provider>/<provider_payment_id>/refunds", tags=["refunds"])
def create_refund(
    provider: ProviderPath, provider_payment_id: PaymentIdPath, body: Annotated[RefundBody, Body()]
) -> Response[Any]:
    key = body.idempotency_key or router.current_event.headers.get("idempotency-key") or uuid.uuid4().hex
    try:
        refund, created = RefundService().request(
            provider,
            provider_payment_id,
            amount=body.amount,
            reason=body.reason,
            idempotency_key=key[:255],
            note=body.note,
            now=clock.now(),
            actor=caller(router.current_event),
        )
    except RefundSubmissionPendingError as exc:
        exc.idempotency_key = key[:255]
        raise
    return _json(refund, HTTPStatus.CREATED if created else HTTPStatus.OK)


@router.get("/admin/payments/<provider>/<provider_payment_id>/refunds", tags=["refunds"])
def list_refunds(provider: ProviderPath, provider_payment_id: PaymentIdPath) -> Response[Any]:
    service = RefundService()
    refunds = service.of_payment(provider, provider_payment_id)
    remaining = service.refunds.remaining(provider, provider_payment_id)
    return _json(RefundList(refunds=refunds, remaining_refundable=remaining))


@router.get("/admin/payments/<provider>/<provider_payment_id>/refunds/<refund_id>", tags=["refunds"])
def get_refund(
    provider: ProviderPath, provider_payment_id: PaymentIdPath, refund_id: RefundIdPath
) -> Response[Any]:
    return _json(RefundService().get(provider, provider_payment_id, refund_id))


@router.post("/admin/payments/<provider>/<provider_payment_id>/refunds/<refund_id>/cancel", tags=["refunds"])
def cancel(
    provider: ProviderPath, provider_payment_id: PaymentIdPath, refund_id: RefundIdPath
) -> Response[Any]:
    actor = caller(router.current_event)
    return _json(
        RefundService().cancel(provider, provider_payment_id, refund_id, now=clock.now(), actor=actor)
    )


@router.post("/admin/payments/<provider>/<provider_payment_id>/refunds/<refund_id>/amend", tags=["refunds"])
def amend(
    provider: ProviderPath,
    provider_payment_id: PaymentIdPath,
    refund_id: RefundIdPath,
    body: Annotated[AmendBody, Body()],
) -> Response[Any]:
    refund = RefundService().amend(
        provider,
        provider_payment_id,
        refund_id,
        amount=body.amount,
        now=clock.now(),
        actor=caller(router.current_event),
    )
    return _json(refund, HTTPStatus.CREATED)


@router.post("/admin/payments/<provider>/<provider_payment_id>/refunds/<refund_id>/reverse", tags=["refunds"])
def reverse(
    provider: ProviderPath, provider_payment_id: PaymentIdPath, refund_id: RefundIdPath
) -> Response[Any]:
    actor = caller(router.current_event)
    return _json(
        RefundService().reverse(provider, provider_payment_id, refund_id, now=clock.now(), actor=actor)
    )


@router.post(
    "/admin/payments/<provider>/<provider_payment_id>/refunds/<refund_id>/debit-memo", tags=["refunds"]
)
def debit_memo(
    provider: ProviderPath,
    provider_payment_id: PaymentIdPath,
    refund_id: RefundIdPath,
    body: Annotated[DebitMemoBody, Body()],
) -> Response[Any]:
    memo: DebitMemo = RefundService().debit_memo(
        provider,
        provider_payment_id,
        refund_id,
        now=clock.now(),
        amount=body.amount,
        note=body.note,
        actor=caller(router.current_event),
    )
    return _json(memo, HTTPStatus.CREATED)
