"""Lambda entry point: the weekday feed sync (EventBridge Scheduler, 06:00 Asia/Tokyo by default).

The schedule's payload carries its scheduled time (``<aws.scheduler.scheduled-time>``); the business
date is that instant's Asia/Tokyo date, so a delayed or retried invocation still syncs the right
day. A run nearing the Lambda time limit checkpoints and invokes this function again
(asynchronously) to continue where it stopped.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, ConfigDict

from cardops.feeds.use_cases.sync import time_budget
from cardops.feeds.wiring import feed_sync
from cardops.handlers._common import entry_point
from cardops.kernel import aws, clock
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.observability import make_logger

logger = make_logger("cardops-feed-sync")
metrics = Metrics(namespace="cardops", service="feed-sync")
tracer = Tracer(service="cardops-feed-sync")
#: Self-invocations after which a run is left to the next schedule (a guard against a loop).
MAX_CONTINUATIONS = 50


class SyncEvent(BaseModel):
    """The scheduler's payload, or a continuation this function sent itself."""

    model_config = ConfigDict(extra="ignore")

    scheduled_time: AwareDatetime | None = None
    #: EventBridge rule events carry ``time``; accepted too.
    time: AwareDatetime | None = None
    business_date: date | None = None
    continuation: int = 0

    def date_to_sync(self, now: datetime) -> date:
        if self.business_date is not None:
            return self.business_date
        return tokyo_date(self.scheduled_time or self.time or now)


@entry_point(logger, tracer, metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = SyncEvent.model_validate(event)
    now = clock.now()
    business_date = parsed.date_to_sync(now)
    # only this function's role may BatchWriteItem: the admin API's on-demand run puts line by line
    summary = feed_sync(batched=True).run(business_date, now, should_stop=time_budget(context, None))
    answer = summary.model_dump(mode="json", exclude={"problems"})
    logger.info(
        "feed sync",
        extra={
            key: answer[key]
            for key in (
                "business_date",
                "status",
                "lines_read",
                "matched",
                "errors",
                "duplicates",
                "malformed",
            )
        },
    )
    for problem in summary.problems:
        logger.warning("feed problem", extra=problem.model_dump())
    metrics.add_metric(name="FeedLinesRead", unit=MetricUnit.Count, value=summary.lines_read)
    metrics.add_metric(name="FeedLinesUnmatched", unit=MetricUnit.Count, value=summary.errors)
    metrics.add_metric(name="FeedRowsMalformed", unit=MetricUnit.Count, value=summary.malformed)
    # the FeedSyncTenantSkippedOrFailed alarm: tenants whose lines could not be linked, and tenants
    # with a file that could not be read at all (a file-level problem has no line number)
    skipped = [t.tenant_id for t in summary.tenants if t.corporate_number_problem]
    failed = {p.file.split("/")[1] for p in summary.problems if p.line is None and p.file.count("/") >= 2}
    metrics.add_metric(name="FeedSyncTenantSkipped", unit=MetricUnit.Count, value=len(skipped))
    metrics.add_metric(name="FeedSyncTenantFailed", unit=MetricUnit.Count, value=len(failed))
    if skipped or failed:
        logger.warning("tenants not linked", skipped=skipped, failed=sorted(failed))
    if summary.status == "in_progress":
        if parsed.continuation >= MAX_CONTINUATIONS:
            logger.error("feed sync left unfinished after the continuation limit; the next run resumes it")
        else:
            continuation = {
                "business_date": business_date.isoformat(),
                "continuation": parsed.continuation + 1,
            }
            aws.client("lambda").invoke(
                FunctionName=context.invoked_function_arn or context.function_name,
                InvocationType="Event",
                Payload=json.dumps(continuation).encode(),
            )
            answer["continued"] = True
    return answer
