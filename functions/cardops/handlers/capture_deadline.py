"""Lambda entry point: the capture-deadline workflow's task steps (check / remind / expire / escalate).

The state machine (``payments/state_machines/capture_deadline.asl.json``) passes ``action`` and the
payment's key;
errors propagate by class name, which the definition's ``Retry``/``Catch`` match
(``TransientProviderError`` is retried with backoff, anything else ends in ``escalate``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel import clock
from cardops.kernel.config import settings
from cardops.kernel.observability import make_logger
from cardops.payments.store.queue import SqsQueue
from cardops.payments.use_cases import capture
from cardops.payments.wiring import capture_deps
from cardops.support import hooks

logger = make_logger("cardops-capture-deadline")
tracer = Tracer(service="cardops-capture-deadline")
metrics = Metrics(namespace="cardops", service="capture-deadline")


class Step(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: str = Field(pattern=r"^(check|remind|expire|escalate)$")
    provider: str
    provider_payment_id: str = Field(min_length=1, max_length=255)
    hours_before: int = 0
    error: dict[str, Any] | None = None
    execution: str | None = None


@tracer.capture_method
def run(step: Step) -> dict[str, Any]:
    now = clock.now()
    provider, payment_id = step.provider, step.provider_payment_id
    logger.set_correlation_id(step.execution or f"{provider}/{payment_id}")
    if step.action == "check":
        return capture.check(capture_deps(), provider, payment_id, now=now)
    if step.action == "remind":
        result = capture.remind(capture_deps(), provider, payment_id, hours_before=step.hours_before, now=now)
        if result["published"]:
            metrics.add_metric(name="CaptureReminderSent", unit=MetricUnit.Count, value=1)
        return result
    if step.action == "expire":
        result = capture.expire(capture_deps(), provider, payment_id, now=now)
        if result["outcome"] == "expired_refunded":
            metrics.add_metric(name="AutoRefunded", unit=MetricUnit.Count, value=1)
        logger.info("capture deadline reached", provider=provider, payment_id=payment_id, **result)
        return result
    message = capture.escalation(provider, payment_id, step.error, step.execution, now=now)
    SqsQueue(settings().operator_queue_url).send(
        message, dedupe_id=f"auto-refund-failed-{provider}-{payment_id}"
    )
    metrics.add_metric(name="AutoRefundFailed", unit=MetricUnit.Count, value=1)
    hooks.auto_refund_failed(provider, payment_id, error=str(message["error"]))
    logger.error(
        "automatic refund failed; sent to the operator queue",
        provider=provider,
        payment_id=payment_id,
        error=message["error"],
    )
    return {"escalated": True}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(Step.model_validate(event))
