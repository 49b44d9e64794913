"""The payments slice's real dependencies: the one place its use cases meet their adapters
(DynamoDB stores, provider clients, EventBridge, SQS), built per call from the settings read once
per process, never at import. Handlers and routes call these; tests build the same use cases on
the in-memory fakes of ``tests/fakes`` (``tests/builders.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from cardops.kernel import aws, clock
from cardops.kernel.config import settings
from cardops.kernel.observability import make_logger
from cardops.ledger.use_cases import configured_plans
from cardops.ledger.wiring import ledger_listener, refund_book
from cardops.payments.domain.changes import Change
from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import FinanceAlert
from cardops.payments.providers.base import PaymentProvider
from cardops.payments.store.payments import PaymentRepository, StorePayments
from cardops.payments.use_cases import capture, janitor
from cardops.payments.use_cases.listeners import NamedListener
from cardops.payments.use_cases.provider_refunds import provider_refund_listener
from cardops.payments.use_cases.reads import PaymentReads, PaymentRecords
from cardops.payments.use_cases.refunds import ProviderLookup, RefundService
from cardops.payments.use_cases.store_payments import PaymentsByStore
from cardops.support import hooks

if TYPE_CHECKING:
    from cardops.payments.store.dead_letters import DeadLetterQueue
    from cardops.payments.store.raw_events import RawEventStore
    from cardops.payments.use_cases.event_processing import ParkedEvent
    from cardops.payments.use_cases.repayment import Repayments

logger = make_logger("cardops-refunds")


class RegisteredProviders:
    """The provider registry seen as ``name → client | None``: providers without an API client
    have their refunds stay ``requested`` for finance."""

    def get(self, name: str) -> PaymentProvider | None:
        from cardops.payments.use_cases.providers import provider_or_none

        return provider_or_none(name)


def publish_alerts(alerts: Sequence[FinanceAlert], *, payment: Payment | None = None) -> None:
    """Alerts are already recorded in the table with their change; this tells the operators.
    ``payment``: the alerts' payment as a change-feed listener holds it (the case hook reads it otherwise).
    """
    queue = settings().operator_queue_url
    for alert in alerts:
        logger.warning("finance alert", alert_id=alert.alert_id, kind=alert.kind, refund_id=alert.refund_id)
        if queue:
            aws.sqs().send_message(
                QueueUrl=queue,
                MessageBody=json.dumps({"type": "finance_alert", "alert": alert.model_dump(mode="json")}),
            )
        hooks.refund_rejected(
            refund_id=alert.refund_id, provider=alert.provider, payment_id=alert.provider_payment_id,
            store_id=alert.store_id, amount=alert.amount, currency=alert.currency, detail=alert.detail,
            payment=payment,
        )  # fmt: skip


def refund_service(
    *, providers: ProviderLookup | Mapping[str, PaymentProvider] | None = None, payment: Payment | None = None
) -> RefundService:
    """``providers={}``: a service that never calls a provider (the change-feed listeners);
    ``payment``: the payment a listener's change carries, which its alerts then need not read."""
    return RefundService(
        payments=PaymentRepository(),
        refunds=refund_book(),
        providers=RegisteredProviders() if providers is None else providers,
        plans=configured_plans(),
        publish=partial(publish_alerts, payment=payment),
    )


def payment_reads() -> PaymentReads:
    return PaymentReads(PaymentRepository(), refund_service(providers={}))


def payment_records() -> PaymentRecords:
    """Payments with their history and notes, and reservations (admin routes, console pages)."""
    from cardops.payments.store.payment_notes import PaymentNoteStore
    from cardops.payments.store.payments import ReservationRepository

    return PaymentRecords(PaymentRepository(), PaymentNoteStore(), ReservationRepository())


def payments_by_store() -> PaymentsByStore:
    return PaymentsByStore(StorePayments())


def capture_deps() -> capture.Deps:
    """The capture use cases wired to the real adapters, for the admin API and the workflow task."""
    from cardops.payments.store.claims import OutcomeClaims
    from cardops.payments.store.notifications import EventPublisher
    from cardops.payments.store.payment_notes import PaymentNoteStore
    from cardops.payments.store.payments import ReservationRepository
    from cardops.payments.use_cases.providers import provider_client

    return capture.Deps(
        payments=PaymentRepository(),
        claims=OutcomeClaims(),
        providers=provider_client,
        reservations=ReservationRepository(),
        events=EventPublisher(),
        notices=PaymentNoteStore(),
    )


def repayments() -> Repayments:
    """The re-payment use cases on the real adapters (admin API, console, the workflow's steps)."""
    from cardops.payments.store.evidence import EvidenceStore
    from cardops.payments.store.notifications import EventPublisher
    from cardops.payments.store.payment_notes import PaymentNoteStore
    from cardops.payments.store.payments import ReservationRepository
    from cardops.payments.store.repayment import RepaymentStore
    from cardops.payments.store.repayment_workflow import RepaymentWorkflow
    from cardops.payments.use_cases import providers
    from cardops.payments.use_cases.repayment import EVENT_SOURCE, RepaymentDeps, RepaymentPolicy, Repayments

    config = settings()
    return Repayments(
        RepaymentDeps(
            requests=RepaymentStore(),
            payments=PaymentRepository(),
            reservations=ReservationRepository(),
            links=PaymentNoteStore(),
            evidence=EvidenceStore(),
            workflow=RepaymentWorkflow(config.repayment_state_machine_arn),
            events=EventPublisher(source=EVENT_SOURCE),
            rechargers=providers.recharger,
            open_case=hooks.repayment_requested,
            policy=RepaymentPolicy(
                brand_allows_mit=config.brand_allows_mit,
                window=timedelta(days=config.repayment_window_days),
                decision_timeout_seconds=config.repayment_decision_timeout_seconds,
                max_document_bytes=config.repayment_max_document_bytes,
                support_address=config.repayment_support_address,
            ),
        )
    )


def raw_events() -> RawEventStore:
    """The stored webhook events and their processing records (the events routes)."""
    from cardops.payments.store.raw_events import RawEventStore

    return RawEventStore()


def dead_letters() -> DeadLetterQueue:
    from cardops.payments.store.dead_letters import DeadLetterQueue

    return DeadLetterQueue(settings().dead_letter_queue_url)


def redrive_event(*, event_id: str, provider: str | None) -> ParkedEvent:
    """Move a parked event back to the events queue, once per event (``event_processing.redrive``)."""
    from cardops.payments.store.queue import SqsQueue
    from cardops.payments.use_cases import event_processing

    config = settings()
    queue = SqsQueue(config.events_queue_url)
    return event_processing.redrive(
        dead_letters(),
        raw_events(),
        events_queue_url=config.events_queue_url,
        event_id=event_id,
        provider=provider,
        now=clock.now(),
        requeue=lambda provider, event_id: queue.send(
            {"provider": provider, "event_id": event_id}, dedupe_id=f"{provider}:{event_id}"
        ),
    )


def scheduler_deps(*, period: timedelta) -> janitor.SchedulerDeps:
    """The janitor's scheduler; ``period``: how often it is scheduled (``resources``)."""
    from cardops.payments.store.due_checks import OPEN_SHARDS, Checkpoints, CheckQueue, DueIndex

    return janitor.SchedulerDeps(
        index=DueIndex(),
        checkpoints=Checkpoints(),
        queue=CheckQueue(settings().janitor_queue_url),
        shards=OPEN_SHARDS,
        period=period,
    )


def worker_deps() -> janitor.WorkerDeps:
    from cardops.payments.store.due_checks import DuePayments
    from cardops.payments.use_cases.providers import provider_or_none

    return janitor.WorkerDeps(due=DuePayments(), payments=PaymentRepository(), provider_for=provider_or_none)


def refund_listener(change: Change) -> None:
    """Reconcile our refunds with the provider's view (its plugin's refund report)."""
    refund_service(providers={}, payment=change.new).reconcile(change.new, now=clock.now())


def provider_refund_change_listener(change: Change) -> None:
    """Record a refund made at the provider (``use_cases.provider_refunds``)."""
    provider_refund_listener(refund_service(payment=change.new), change.old, change.new, now=clock.now())


def capture_deadline_listener(change: Change) -> None:
    """Start or stop the payment's capture-deadline workflow (``use_cases.capture``)."""
    from cardops.kernel.workflows import start_once, stop_if_running
    from cardops.payments.store.claims import OutcomeClaims

    deps = capture.DeadlineListenerDeps(
        claims=OutcomeClaims(),
        state_machine_arn=settings().capture_deadline_state_machine_arn,
        start_once=start_once,
        stop_if_running=stop_if_running,
    )
    capture.capture_deadline_listener(deps, change)


def payment_listeners() -> list[NamedListener]:
    """Every listener of a payment change, in the order they run (``handlers/changes.py``)."""
    return [
        NamedListener("ledger", ledger_listener),
        NamedListener("refunds", refund_listener),
        NamedListener("provider_refunds", provider_refund_change_listener),
        NamedListener("capture_deadline", capture_deadline_listener),
    ]
