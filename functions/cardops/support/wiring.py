"""The support slice's real dependencies, built from the environment (read once, never at import)."""

from __future__ import annotations

from datetime import date, datetime

from cardops.kernel.config import settings
from cardops.payments.domain.payments import Payment
from cardops.support.domain.payment_answers import LinkedRefund, RefundCandidate
from cardops.support.domain.sla import SlaPolicy
from cardops.support.store import CaseStore, ReportBucket
from cardops.support.use_cases import Deps


class StepFunctionsCaseWorkflows:
    """One Standard execution per case, named after the case id."""

    def __init__(self, state_machine_arn: str) -> None:
        self.arn = state_machine_arn

    def start(self, case_id: str) -> None:
        from cardops.kernel.workflows import start_once

        if not self.arn:
            raise RuntimeError("SUPPORT_CASE_STATE_MACHINE_ARN is not set: case timers cannot start")
        start_once(self.arn, case_id, {"case_id": case_id})

    def stop(self, case_id: str, cause: str) -> None:
        from cardops.kernel.workflows import stop_if_running

        if self.arn:
            stop_if_running(self.arn, case_id, cause)


class SlicePaymentReads:
    """Payments and refunds through the payments slice's read use cases; refund candidates from the
    store's ledger through the ledger slice's statement use case (refund entries of the merchant)."""

    def payment(self, provider: str, payment_id: str) -> Payment | None:
        from cardops.payments.wiring import payment_reads

        return payment_reads().payment(provider, payment_id)

    def refunds(self, provider: str, payment_id: str) -> list[LinkedRefund]:
        from cardops.payments.wiring import payment_reads

        return [
            LinkedRefund(
                refund_id=r.refund_id,
                amount=r.amount,
                status=r.status.value,
                at=r.created_at,
                source="cardops",
            )
            for r in payment_reads().refunds_of(provider, payment_id)
        ]

    def store_refunds(
        self, store_id: str, provider: str, currency: str, *, since: date, now: datetime
    ) -> list[RefundCandidate]:
        from cardops.ledger.domain.ledger import PROVIDER_CHANNEL, EntryKind
        from cardops.ledger.wiring import ledger_service

        channel = PROVIDER_CHANNEL.get(provider)
        if channel is None:
            return []
        entries = ledger_service().entries_posted(store_id, channel, currency, since=since)
        return [
            RefundCandidate(
                refund_id=entry.cause.id,
                store_id=entry.store_id,
                amount=-entry.amount,
                currency=entry.currency,
                at=entry.created_at,
            )
            for entry in entries
            if entry.kind is EntryKind.REFUND
        ]


def support_deps() -> Deps:
    config = settings()
    policy = (
        SlaPolicy.model_validate_json(config.support_sla_policy) if config.support_sla_policy else SlaPolicy()
    )
    return Deps(
        cases=CaseStore(settings().table_name),
        workflows=StepFunctionsCaseWorkflows(config.support_case_state_machine_arn),
        payments=SlicePaymentReads(),
        reports=ReportBucket(config.support_reports_bucket),
        policy=policy,
    )
