"""Lambda entry point: the hourly payments janitor (EventBridge schedule)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardops.kernel import clock
from cardops.kernel.observability import make_logger
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases.janitor import reconcile_open_payments
from cardops.payments.use_cases.providers import provider_or_none

logger = make_logger("cardops-janitor")
metrics = Metrics(namespace="cardops", service="janitor")
tracer = Tracer(service="cardops-janitor")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = reconcile_open_payments(
        payments=PaymentRepository(), provider_for=provider_or_none, now=clock.now()
    )
    metrics.add_metric(name="JanitorRepaired", unit=MetricUnit.Count, value=len(report.repaired))
    metrics.add_metric(name="JanitorFailed", unit=MetricUnit.Count, value=len(report.failed))
    logger.info(
        "janitor run", examined=report.examined, repaired=len(report.repaired), failed=len(report.failed)
    )
    return asdict(report)
