"""Lambda entry points of the support slice: the case workflow's steps, and the monthly report.

``case_step``: the state machine (``support/state_machines/support_case.asl.json``) passes
``action`` (check / fire) and the case id; an escalation emits ``SupportSlaMissed`` (alarmed).
``monthly_report``: a weekday schedule; on the month's first business day (Asia/Tokyo) it writes the
previous month's complaints report to S3, on other days it records a skip.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cardops.handlers._common import entry_point
from cardops.kernel import clock
from cardops.kernel.observability import make_logger
from cardops.support import use_cases
from cardops.support.wiring import support_deps

logger = make_logger("cardops-support")
tracer = Tracer(service="cardops-support")
metrics = Metrics(namespace="cardops", service="support")


class Step(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: str = Field(pattern=r"^(check|fire)$")
    case_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")
    timer: str | None = None
    kind: str | None = None
    execution: str | None = None


@entry_point(logger, tracer, metrics)
def case_step(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = Step.model_validate(event)
    logger.set_correlation_id(step.execution or step.case_id)
    deps = support_deps()
    if step.action == "check":
        return use_cases.check(deps, step.case_id)
    if step.timer is None or step.kind is None:
        raise ValueError("a fire step names its timer and kind")
    result = use_cases.fire(deps, step.case_id, step.timer, step.kind, now=clock.now())
    if use_cases.missed(result):
        metrics.add_metric(name="SupportSlaMissed", unit=MetricUnit.Count, value=1)
        logger.error("support case SLA missed; escalated", case_id=step.case_id, **result)
    elif result["fired"]:
        metrics.add_metric(name="SupportReminderSent", unit=MetricUnit.Count, value=1)
        logger.info("support case reminder", case_id=step.case_id, **result)
    return result


class ScheduleEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    #: EventBridge rule events carry their scheduled ``time``: a delayed run still reports its day
    time: AwareDatetime | None = None


@entry_point(logger, tracer, metrics)
def monthly_report(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    scheduled: datetime = ScheduleEvent.model_validate(event).time or clock.now()
    result = use_cases.scheduled_report(support_deps(), now=scheduled)
    logger.info("monthly complaints report", **result)
    if result["status"] == "written":
        metrics.add_metric(name="ComplaintsReportWritten", unit=MetricUnit.Count, value=1)
    return result
