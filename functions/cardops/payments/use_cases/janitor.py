"""The payments janitor (SPEC §1): a periodic reconciliation of payments still waiting for the
provider, from the provider's own view of them.

A webhook can be lost (the provider gave up retrying, an endpoint was misconfigured). Every
pending or authorized payment untouched for a quiet period is re-fetched from its provider and the
snapshot applied like any event — the same merge, so a repair can never undo a newer fact. What a
repair implies (ledger, workflow start) follows from its write through the change feed, like any
other change; an unchanged payment has nothing to follow (the effects of its last write were
delivered by the feed, which retries them itself), so nothing is re-run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cardops.kernel.dynamodb import StoreUnavailable
from cardops.payments.domain.payments import Applied, EventKind
from cardops.payments.providers.base import PaymentProvider, ProviderError
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases.payment_events import apply_canonical

#: payments changed more recently than this are left to their webhooks, which may be in flight
QUIET_PERIOD = timedelta(minutes=15)


@dataclass
class JanitorReport:
    examined: int = 0
    repaired: list[str] = field(default_factory=list)
    unchanged: int = 0
    without_api: int = 0
    failed: list[str] = field(default_factory=list)


def reconcile_open_payments(
    *,
    payments: PaymentRepository,
    provider_for: Callable[[str], PaymentProvider | None],
    now: datetime,
    quiet_period: timedelta = QUIET_PERIOD,
) -> JanitorReport:
    report = JanitorReport()
    run_id = now.strftime("%Y%m%dT%H%M%S")
    for payment in payments.open_payments(updated_before=now - quiet_period):
        report.examined += 1
        key = f"{payment.provider}/{payment.provider_payment_id}"
        applied: Applied | None = None
        client = provider_for(payment.provider)
        if client is None:
            report.without_api += 1
        else:
            try:
                snapshot = client.retrieve(payment.provider_payment_id)
            except ProviderError:
                report.failed.append(key)
                continue
            event = snapshot.as_event(
                provider=payment.provider,
                event_id=f"janitor:{run_id}",
                kind=EventKind.SNAPSHOT,
                occurred_at=now,
                actor="janitor",
            )
            try:
                applied = apply_canonical(event, payments, now=now)
            except StoreUnavailable:
                # throttled on this payment: it stays open, so the next run repairs it
                report.failed.append(key)
                continue
        if applied is not None:
            report.repaired.append(key)
            continue
        report.unchanged += 1
    return report
