"""Ledger reconciliation (issue 11 item 2): every store's ledger equals its payments.

Per store, the payments that captured money are read from their sparse index, page by page (one
query per page, never a scan), optionally only those changed since a time (the daily run). For each
payment:

1. a refund the provider reports that no refund record explains is recorded first (the payments
   slice's ``RefundService.sync_provider_refunds``: refund record, ceiling, ledger debit and alert);
2. the entries its facts and refunds imply are read by key (one ``BatchGetItem``) and compared
   (``ledger.domain.reconciliation``);
3. what is missing is posted with the ids a late listener would use, so neither can double; what
   cannot be decided is reported, counted in the ``LedgerDifferencesUnresolved`` metric and alarmed.

Running it again posts nothing: every repair is an entry that is then found by its key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cardops.kernel.observability import make_logger
from cardops.ledger.domain.fees import PlansConfig
from cardops.ledger.domain.ledger import PROVIDER_CHANNEL, ConflictingEntryError, LedgerEntry, LedgerError
from cardops.ledger.domain.reconciliation import (
    Difference,
    Finding,
    PaymentReconciliation,
    StoreReconciliation,
    check_payment,
    probes,
    summarize,
)
from cardops.ledger.use_cases import attributed
from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import Refund
from cardops.payments.use_cases.refunds import UnexplainedRefundError

logger = make_logger("cardops-reconcile")


class PaymentsOfStores(Protocol):
    """The payments side, read by store (the payments slice's ``PaymentsByStore``)."""

    def stores(self) -> Iterator[str]: ...

    def captured(self, store_id: str, *, changed_since: datetime | None = None) -> Iterator[Payment]: ...


class RefundsOfPayment(Protocol):
    def of_payment(self, provider: str, payment_id: str) -> list[Refund]: ...


class PostedEntries(Protocol):
    def get_entries(self, entries: Sequence[LedgerEntry]) -> tuple[LedgerEntry, ...]: ...

    def post_idempotent(self, entries: Sequence[LedgerEntry]) -> tuple[LedgerEntry, ...]: ...


class ProviderRefundSync(Protocol):
    """What the payments slice offers: record unexplained provider refunds, or raise when it cannot."""

    def __call__(self, payment: Payment, *, now: datetime) -> Refund | None: ...


@dataclass(frozen=True)
class Deps:
    """Built by ``ledger.wiring.reconcile_deps``."""

    payments: PaymentsOfStores
    refunds: RefundsOfPayment
    ledgers: PostedEntries
    plans: PlansConfig
    provider_refunds: ProviderRefundSync


def reconcile_store(
    store_id: str, deps: Deps, *, now: datetime, actor: str, changed_since: datetime | None = None
) -> StoreReconciliation:
    """Compare, repair and report one store (all its payments, or those changed since a time).

    Repairs are stamped with ``actor`` (the admin's IAM caller, or ``reconcile`` for the schedule).
    """
    results = [
        reconcile_payment(p, deps, now=now, actor=actor)
        for p in deps.payments.captured(store_id, changed_since=changed_since)
    ]
    repaired = sum(len(r.repairs) for r in results)
    report = summarize(store_id, results, repaired_entries=repaired)
    if report.differences:
        logger.warning(
            "ledger reconciled with differences",
            store_id=store_id,
            repaired_entries=repaired,
            unresolved=len(report.unresolved),
        )
    return report


def reconcile_stores(
    deps: Deps, *, now: datetime, actor: str, changed_since: datetime | None = None
) -> Iterator[StoreReconciliation]:
    """Every store with captured money (the daily run), one store at a time."""
    for store_id in deps.payments.stores():
        yield reconcile_store(store_id, deps, now=now, actor=actor, changed_since=changed_since)


def reconcile_payment(payment: Payment, deps: Deps, *, now: datetime, actor: str) -> PaymentReconciliation:
    name = f"{payment.provider}/{payment.provider_payment_id}"
    channel = PROVIDER_CHANNEL.get(payment.provider)
    if channel is None:
        return check_payment(payment, (), {}, deps.plans.standard, now=now)
    plan = deps.plans.for_channel(channel)
    unexplained: list[Difference] = []
    try:
        recorded = deps.provider_refunds(payment, now=now)
    except UnexplainedRefundError as exc:
        unexplained.append(
            Difference(
                payment=name,
                cause=f"refund:{name}@provider",
                kind="refund",
                finding=Finding.UNEXPLAINED_REFUND,
                expected=-exc.amount,
                posted=0,
                detail=str(exc),
            )
        )
    else:
        if recorded is not None:
            unexplained.append(
                Difference(
                    payment=name,
                    cause=str(recorded.cause),
                    kind="refund",
                    finding=Finding.UNEXPLAINED_REFUND,
                    expected=-recorded.amount,
                    posted=0,
                    detail="refunded at the provider: recorded as a provider refund, finance alerted",
                    repaired=True,
                )
            )
    refunds = deps.refunds.of_payment(payment.provider, payment.provider_payment_id)
    posted = {e.entry_id: e for e in deps.ledgers.get_entries(probes(payment, refunds, plan, at=now))}
    result = check_payment(payment, refunds, posted, plan, now=now)
    if result.repairs:
        # reversals are checked against the entries they reverse: hand those in too (already posted,
        # so they are skipped as retries)
        targets = [posted[e.reverses] for e in result.repairs if e.reverses is not None]
        try:
            deps.ledgers.post_idempotent([*targets, *attributed(result.repairs, actor)])
        except (ConflictingEntryError, LedgerError) as exc:
            failed = tuple(
                d.model_copy(update={"repaired": False, "detail": f"{d.detail}; repair refused: {exc}"})
                for d in result.differences
            )
            return result.model_copy(update={"repairs": (), "differences": (*unexplained, *failed)})
        logger.info("ledger repaired", payment=name, entries=[e.entry_id for e in result.repairs])
    if unexplained:
        return result.model_copy(update={"differences": (*unexplained, *result.differences)})
    return result
