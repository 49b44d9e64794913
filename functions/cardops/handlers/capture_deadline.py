"""Lambda entry point: the capture-deadline workflow's task (``due``) and its failure step (``failed``).

The state machine (``payments/state_machines/capture_deadline.asl.json``) passes ``action`` and the
payment's key; errors propagate by class name, which the definition's ``Retry``/``Catch`` match
(``TransientProviderError`` is retried with backoff, anything else ends in ``failed``).

``check`` / ``remind`` / ``expire`` / ``escalate`` are the previous definition's steps: a deploy
changes the definition of new executions only, and those started before it still call them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from cardops.handlers._common import entry_point
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

    action: str = Field(pattern=r"^(due|failed|check|remind|expire|escalate)$")
    provider: str
    provider_payment_id: str = Field(min_length=1, max_length=255)
    hours_before: int = 0
    #: when the execution last woke (or was started): reminders due since then are sent now
    since: datetime | None = None
    error: dict[str, Any] | None = None
    execution: str | None = None


@tracer.capture_method
def run(step: Step) -> dict[str, Any]:
    now = clock.now()
    provider, payment_id = step.provider, step.provider_payment_id
    logger.set_correlation_id(step.execution or f"{provider}/{payment_id}")
    if step.action == "due":
        if step.since is None:
            raise ValueError("the due step needs since: when the execution last woke")
        woke = capture.wake(capture_deps(), provider, payment_id, since=step.since, now=now)
        _count(woke)
        return woke
    if step.action == "failed":
        woke = capture.after_failure(capture_deps(), provider, payment_id, now=now)
        if woke["outcome"] == "auto_refund_failed":
            _escalate(step, now=now)
        else:
            metrics.add_metric(name="CaptureReminderFailed", unit=MetricUnit.Count, value=1)
            logger.error(
                "a capture-deadline wake-up failed before the deadline; waiting on for it",
                provider=provider,
                payment_id=payment_id,
                error=step.error,
                next=woke["at"],
            )
        return woke
    if step.action == "check":
        return capture.check(capture_deps(), provider, payment_id, now=now)
    if step.action == "remind":
        result = capture.remind(capture_deps(), provider, payment_id, hours_before=step.hours_before, now=now)
        _count(result)
        return result
    if step.action == "expire":
        result = capture.expire(capture_deps(), provider, payment_id, now=now)
        _count(result)
        return result
    _escalate(step, now=now)
    return {"escalated": True}


def _count(result: dict[str, Any]) -> None:
    """The metrics of a reminder sent and of an automatic refund made, whichever step made them."""
    if result.get("published"):
        metrics.add_metric(name="CaptureReminderSent", unit=MetricUnit.Count, value=1)
    if result.get("outcome") == "expired_refunded" and result.get("done", True):
        metrics.add_metric(name="AutoRefunded", unit=MetricUnit.Count, value=1)
        logger.info("capture deadline reached", **result)


def _escalate(step: Step, *, now: datetime) -> None:
    """The automatic refund could not be made: the operator queue, the alarm's metric, a support case."""
    provider, payment_id = step.provider, step.provider_payment_id
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


@entry_point(logger, tracer, metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(Step.model_validate(event))
