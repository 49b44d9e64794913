"""Lambda entry point: the janitor's scheduler (EventBridge, every ``JANITOR_PERIOD_MINUTES``).

Reads only the payments with a check due since the last run and hands them to the worker through
the janitor queue (``payments.use_cases.janitor``). A run that nears the time limit stops after a page; the
next invocation resumes it from its checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardops import resources
from cardops.handlers._common import entry_point
from cardops.kernel import clock
from cardops.kernel.observability import make_logger
from cardops.payments.use_cases.janitor import schedule_due_checks
from cardops.payments.wiring import scheduler_deps

logger = make_logger("cardops-janitor")
metrics = Metrics(namespace="cardops", service="janitor")
tracer = Tracer(service="cardops-janitor")


@entry_point(logger, tracer, metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runs = schedule_due_checks(
        scheduler_deps(period=timedelta(minutes=resources.JANITOR_PERIOD_MINUTES)),
        now=clock.now(),
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    enqueued = sum(run.enqueued for run in runs)
    finished = all(run.finished or run.superseded for run in runs)
    metrics.add_metric(name="JanitorDue", unit=MetricUnit.Count, value=enqueued)
    if not finished:
        metrics.add_metric(name="JanitorRunIncomplete", unit=MetricUnit.Count, value=1)
    for run in runs:
        logger.info("janitor run", **asdict(run))
    return {"enqueued": enqueued, "finished": finished, "runs": [asdict(run) for run in runs]}
