"""Lambda entry point: the daily ledger reconciliation (EventBridge schedule), issue 11 item 2.

The scheduled event reconciles every store's payments changed in the last ``LOOKBACK`` (two days,
so one failed run is covered by the next) and resubmits refunds stuck in ``requested``. An event
``{"store_id": "S", "full": true}`` reconciles one store (``full``: all its payments). Differences
that could not be repaired are the ``LedgerDifferencesUnresolved`` metric, which is alarmed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from cardops.handlers._common import entry_point
from cardops.kernel import clock
from cardops.kernel.observability import make_logger
from cardops.ledger.reconcile import reconcile_store, reconcile_stores
from cardops.ledger.wiring import reconcile_deps
from cardops.payments.use_cases.provider_refunds import resubmit_stuck_refunds
from cardops.payments.wiring import refund_service

logger = make_logger("cardops-reconcile")
metrics = Metrics(namespace="cardops", service="reconcile")
tracer = Tracer(service="cardops-reconcile")

#: who the scheduled run's repairs are recorded by
ACTOR = "reconcile"
#: the daily run looks at payments changed this long ago or later (one missed run is covered)
LOOKBACK = timedelta(days=2)


class ReconcileRequest(BaseModel):
    """What an invocation asks; the scheduled event carries none of it (every store, recent changes)."""

    model_config = ConfigDict(extra="ignore")

    store_id: str | None = Field(default=None, min_length=1, max_length=128)
    full: bool = False


@entry_point(logger, tracer, metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ReconcileRequest.model_validate(event)
    now = clock.now()
    since = None if request.full else now - LOOKBACK
    sweep = resubmit_stuck_refunds(refund_service(), now=now)
    deps = reconcile_deps()
    if request.store_id is not None:
        reports = [reconcile_store(request.store_id, deps, now=now, actor=ACTOR, changed_since=since)]
    else:
        reports = list(reconcile_stores(deps, now=now, actor=ACTOR, changed_since=since))
    repaired = sum(r.repaired_entries for r in reports)
    unresolved = [d for r in reports for d in r.unresolved]
    metrics.add_metric(name="LedgerEntriesRepaired", unit=MetricUnit.Count, value=repaired)
    metrics.add_metric(name="LedgerDifferencesUnresolved", unit=MetricUnit.Count, value=len(unresolved))
    metrics.add_metric(name="StuckRefundsResubmitted", unit=MetricUnit.Count, value=len(sweep.resubmitted))
    metrics.add_metric(name="StuckRefundsPending", unit=MetricUnit.Count, value=len(sweep.still_pending))
    for difference in unresolved:
        logger.error("ledger difference not repaired", **difference.model_dump(mode="json"))
    logger.info(
        "reconciliation run",
        stores=len(reports),
        payments=sum(r.checked_payments for r in reports),
        repaired_entries=repaired,
        unresolved=len(unresolved),
    )
    return {
        "stores": len(reports),
        "payments": sum(r.checked_payments for r in reports),
        "repaired_entries": repaired,
        "unresolved": [d.model_dump(mode="json") for d in unresolved],
        "stuck_refunds": {
            "resubmitted": sweep.resubmitted,
            "pending": sweep.still_pending,
            "without_api": sweep.without_api,
        },
    }
