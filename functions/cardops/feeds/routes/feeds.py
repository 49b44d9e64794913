"""Feed sync on demand (SPEC §8 contract 7): ``POST /admin/feeds/sync`` runs it as the schedule would."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field

from cardops.feeds.use_cases.sync import SyncSummary, time_budget
from cardops.feeds.wiring import feed_sync
from cardops.kernel import clock

router = Router()  # type: ignore[no-untyped-call]


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_date: date
    #: Stop, checkpoint and answer ``in_progress`` after this long; call again to continue.
    time_budget_seconds: float | None = Field(default=None, gt=0, le=900)


@router.post("/admin/feeds/sync", tags=["feeds"])
def sync(body: Annotated[SyncRequest, Body()]) -> SyncSummary:
    should_stop = time_budget(router.lambda_context, body.time_budget_seconds)
    return feed_sync().run(body.business_date, clock.now(), should_stop=should_stop)


@router.get("/admin/feeds/runs", tags=["feeds"])
def runs(business_date: Annotated[date | None, Query()] = None) -> list[SyncSummary]:
    """Recorded runs and skips (oldest first), of one business date when given."""
    return feed_sync().runs(business_date)
