"""The ledger slice's real dependencies: the one place its use cases meet their DynamoDB adapters
(built per call from the settings read once per process, never at import)."""

from __future__ import annotations

from datetime import datetime

from cardops.kernel.observability import make_logger
from cardops.ledger import reconcile
from cardops.ledger.store import LedgerStore, RefundStore
from cardops.ledger.use_cases import FinanceDesk, LedgerService, RefundBook, configured_plans
from cardops.payments.domain.changes import Change
from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import Refund

logger = make_logger("cardops-ledger")


def ledger_service() -> LedgerService:
    return LedgerService(LedgerStore(), configured_plans())


def finance_desk() -> FinanceDesk:
    return FinanceDesk(LedgerStore(), RefundStore())


def refund_book() -> RefundBook:
    """The money side of refunds, which the payments slice's refund use cases write through."""
    return RefundBook(RefundStore(), LedgerStore())


def _provider_refunds(payment: Payment, *, now: datetime) -> Refund | None:
    """What the payments slice offers: record unexplained provider refunds, or raise when it cannot."""
    from cardops.payments.wiring import refund_service

    return refund_service(providers={}).sync_provider_refunds(payment, now=now)


def reconcile_deps() -> reconcile.Deps:
    from cardops.payments.wiring import payments_by_store

    return reconcile.Deps(
        payments=payments_by_store(),
        refunds=RefundStore(),
        ledgers=LedgerStore(),
        plans=configured_plans(),
        provider_refunds=_provider_refunds,
    )


def ledger_listener(change: Change) -> None:
    """Change-feed listener (``payments.wiring.payment_listeners``): post what the change means."""
    new = ledger_service().post_payment_facts(change.new, at=change.at)
    if new:
        logger.info(
            "ledger posted",
            provider=change.new.provider,
            payment_id=change.new.provider_payment_id,
            entries=[e.kind.value for e in new],
        )
