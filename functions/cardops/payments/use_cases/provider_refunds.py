"""Provider-side refunds (issue 11 item 3): a refund made at the provider becomes a refund record.

``provider_refund_listener(service, old, new)`` follows a payment change, given the payment before
and after it: run by the change feed (``wiring.payment_listeners``), which delivers old and new images.
It records what the provider refunded beyond every
refund record (``payments.domain.provider_refunds``) in one transaction: the refund (``source:
provider``, ``succeeded``), the refund ceiling taken down by its amount under the provider-level
condition, the store's ledger debit and the finance alert; the alert is then published on the
operator queue like a rejected refund's. A duplicate, replayed or out-of-order event writes nothing.

Stuck refunds: a refund whose provider call succeeded but whose write failed (or whose call never
happened) stays ``requested``. It is repaired two ways, both with its own id as the provider's
idempotency key, so the provider refunds it at most once: on next touch (the same request repeated,
``RefundService.request``) and by the sweep ``resubmit_stuck_refunds``, which the daily
reconciliation runs over refunds ``requested`` for longer than a grace period (a sparse index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cardops.kernel.observability import make_logger
from cardops.payments.domain.payments import Payment
from cardops.payments.use_cases.refunds import (
    RefundService,
    RefundSubmissionPendingError,
    UnexplainedRefundError,
)

logger = make_logger("cardops-refunds")

#: a refund ``requested`` for longer than this is taken as stuck (its request has long returned)
STUCK_AFTER = timedelta(minutes=15)


def provider_refund_listener(
    service: RefundService, old: Payment | None, new: Payment, *, now: datetime
) -> None:
    """A payment changed: record a provider-side refund if the provider reports more refunded."""
    if old is not None and old.facts.refunded_amount >= new.facts.refunded_amount:
        return
    try:
        service.sync_provider_refunds(new, now=now)
    except UnexplainedRefundError as exc:
        # not retried (it cannot succeed by itself): the daily reconciliation reports and alarms it
        logger.error("provider refund beyond the ceiling", error=str(exc))


@dataclass
class SweepReport:
    examined: int = 0
    resubmitted: list[str] = field(default_factory=list)
    still_pending: list[str] = field(default_factory=list)
    #: refunds of providers without a refund API (SBPS: made in its console), left to finance
    without_api: int = 0


def resubmit_stuck_refunds(
    service: RefundService, *, now: datetime, stuck_after: timedelta = STUCK_AFTER, limit: int = 100
) -> SweepReport:
    """Hand refunds stuck in ``requested`` to the provider again, with the same idempotency key.

    The provider answers a call it already made with its first answer (the refund is then recorded
    as succeeded, not made twice), and makes the one it never received. Providers without an API
    (SBPS: refunds are made in its console) keep theirs ``requested`` for finance; they are passed
    over without a call, so they never hold up the others. At most ``limit`` provider calls per run
    (the rest, oldest first, wait for the next run).
    """
    report = SweepReport()
    for refund in service.refunds.requested_before(now - stuck_after):
        if service.providers.get(refund.provider) is None:
            report.without_api += 1
            continue
        if report.examined >= limit:
            break
        report.examined += 1
        try:
            result = service.resubmit(refund, now=now)
        except RefundSubmissionPendingError:
            report.still_pending.append(refund.refund_id)
            continue
        if result.status is not refund.status:
            report.resubmitted.append(refund.refund_id)
        else:
            report.still_pending.append(refund.refund_id)
    return report
