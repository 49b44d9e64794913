"""Lambda entry points: the steps of the re-payment workflow (SPEC §4), one function each.

Each reads the request id from the state, calls the use case (``payments/wiring.repayments``),
and answers what the next state needs. Errors keep their class name (``TransientProviderError``,
``StoreUnavailable``), which the state machine's Retry and Catch match.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardops.handlers._common import entry_point
from cardops.kernel.observability import make_logger
from cardops.payments.wiring import repayments

logger = make_logger("cardops-repayment")
tracer = Tracer(service="cardops-repayment")


def _request_id(event: dict[str, Any]) -> str:
    request_id = event.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise ValueError("the state has no request_id")
    logger.append_keys(request_id=request_id)
    logger.set_correlation_id(request_id)
    return request_id


@entry_point(logger, tracer)
def validate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = repayments().validate_step(_request_id(event))
    logger.info(
        "evidence validated", valid=result["valid"], reasons=[r["reason"] for r in result["rejections"]]
    )
    return result


@entry_point(logger, tracer)
def eligibility(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = repayments().eligibility_step(_request_id(event))
    logger.info("eligibility checked", outcome=result["outcome"], reasons=result["reasons"])
    return result


@entry_point(logger, tracer)
def await_decision(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = event.get("task_token")
    if not isinstance(token, str) or not token:
        raise ValueError("the state has no task_token")
    request_id = _request_id(event)
    repayments().await_decision_step(request_id, token)
    logger.info("awaiting the support desk's decision")
    return {"request_id": request_id, "status": "awaiting_decision"}


@entry_point(logger, tracer)
def charge(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = repayments().charge_step(_request_id(event))
    logger.info("re-payment charged", provider_payment_id=result["provider_payment_id"])
    return result


@entry_point(logger, tracer)
def finish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _request_id(event)
    result = repayments().finish_step(event)
    logger.info("re-payment request ended", outcome=result["outcome"])
    return result
