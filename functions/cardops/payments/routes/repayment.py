"""Admin routes for re-payment requests (SPEC §4): start, decide, list, show."""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cardops.kernel.identity import caller
from cardops.payments.domain.repayment_requests import REQUEST_ID_PATTERN, PaymentRef
from cardops.payments.use_cases import repayment
from cardops.payments.use_cases.repayment_views import RepaymentView, view
from cardops.payments.wiring import repayments

router = Router()  # type: ignore[no-untyped-call]

RequestIdPath = Annotated[str, Path(pattern=REQUEST_ID_PATTERN, description="re-payment request id")]
#: base64 of the largest document API Gateway's 10 MB body can carry
MAX_BASE64_CHARS = 10 * 1024 * 1024


class DocumentUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["pdf", "eml"] = Field(description="pdf (paper consent) or eml (the e-mail thread)")
    content_base64: str = Field(min_length=1, max_length=MAX_BASE64_CHARS)


class StartRepaymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=REQUEST_ID_PATTERN, description="also the workflow execution's name")
    original_payment: PaymentRef
    evidence: dict[str, Any] = Field(description="the fields of SPEC §4; the document is set by the upload")
    document: DocumentUpload


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=500)


class RepaymentStarted(RepaymentView):
    """The request as started; ``duplicate`` when the request id was started before with this evidence."""

    duplicate: bool


def _actor() -> str:
    """Who acts: the IAM caller of the admin API (SigV4), the sandbox's operator locally."""
    return caller(router.current_event)


@router.post(
    "/admin/repayments",
    tags=["repayments"],
    responses={
        201: {"description": "started", "content": {"application/json": {"model": RepaymentStarted}}},
        200: {
            "description": "started before with the same evidence (duplicate)",
            "content": {"application/json": {"model": RepaymentStarted}},
        },
    },
)
def start_repayment(body: Annotated[StartRepaymentBody, Body()]) -> Response[RepaymentStarted]:
    try:
        document = base64.b64decode(body.document.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise repayment.InvalidStart("invalid_document_encoding", "document is not valid base64") from exc
    try:
        started = repayments().start(
            request_id=body.request_id,
            original_payment=body.original_payment,
            evidence=body.evidence,
            document=document,
            kind=body.document.kind,
            actor=_actor(),
        )
    except ValidationError as exc:
        raise repayment.InvalidEvidence.of(exc) from exc
    answer = RepaymentStarted(**dict(view(started.record)), duplicate=started.duplicate)
    return Response(
        status_code=(HTTPStatus.OK if started.duplicate else HTTPStatus.CREATED).value,
        content_type=content_types.APPLICATION_JSON,
        body=answer,
    )


@router.post("/admin/repayments/<request_id>/decision", tags=["repayments"])
def decide(request_id: RequestIdPath, body: Annotated[DecisionBody, Body()]) -> RepaymentView:
    record = repayments().decide(request_id, body.decision, reason=body.reason, actor=_actor())
    return view(record)


@router.get("/admin/repayments", tags=["repayments"])
def list_repayments(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[RepaymentView]:
    return repayments().list_requests(limit)


@router.get("/admin/repayments/<request_id>", tags=["repayments"])
def show_repayment(request_id: RequestIdPath) -> RepaymentView:
    return repayments().show(request_id)
