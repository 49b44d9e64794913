"""Shared builders of the use cases for tests, so no test repeats a long constructor call.

``*_on_moto``: the real wiring (DynamoDB adapters, against moto), with what a test replaces.
``fake_*``: the same use cases on the in-memory fakes of ``tests/fakes`` (unit tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cardops.kernel.backoff import CONFLICTS
from cardops.ledger.domain.fees import DEFAULT_PLANS
from cardops.ledger.store import LedgerStore, RefundStore
from cardops.ledger.use_cases import LedgerService, RefundBook, configured_plans
from cardops.payments.domain.payments import (
    Applied,
    CanonicalEvent,
    EventKind,
    Payment,
    PaymentFacts,
    PaymentMetadata,
    apply_event,
    new_payment,
)
from cardops.payments.domain.refunds import (
    FinanceAlert,
    Refund,
    RefundChange,
    RefundCommand,
    RefundReason,
    RefundTarget,
    request_refund,
)
from cardops.payments.domain.repayment import RepaymentEvidence
from cardops.payments.domain.repayment_requests import PaymentRef, RepaymentRecord
from cardops.payments.providers.base import PaymentProvider, ProviderPayment
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases import capture
from cardops.payments.use_cases.refunds import ProviderLookup, RefundService
from cardops.payments.wiring import RegisteredProviders, publish_alerts
from tests.fakes.ledger import FakeLedgers, FakeRefundBook
from tests.fakes.payments import (
    FakeClaims,
    FakeNotices,
    FakePayments,
    FakeProvider,
    FakePublisher,
    FakeReservations,
)

#: conflict retries without sleeping (the fakes answer at once)
NO_WAIT = replace(CONFLICTS, sleep=lambda _: None)


def refund_service_on_moto(
    *,
    providers: ProviderLookup | Mapping[str, PaymentProvider] | None = None,
    publish: Callable[[Sequence[FinanceAlert]], None] = publish_alerts,
    refunds: RefundStore | None = None,
) -> RefundService:
    """``providers={}``: no provider is called; ``refunds``: a refund store a test has patched."""
    return RefundService(
        payments=PaymentRepository(),
        refunds=RefundBook(refunds or RefundStore(), LedgerStore()),
        providers=RegisteredProviders() if providers is None else providers,
        plans=configured_plans(),
        publish=publish,
    )


# -- values ------------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
EVENTS = Path(__file__).resolve().parents[1] / "events"
FINANCE = "arn:aws:iam::123456789012:user/finance"


def captured_event(
    provider: str = "sandbox",
    payment_id: str = "pay_1",
    *,
    store_id: str = "store-1",
    amount: int = 10_000,
    at: datetime = NOW - timedelta(days=2),
) -> CanonicalEvent:
    """The event of a capture of the whole authorization, as a provider reports it."""
    return CanonicalEvent(
        provider=provider,
        provider_payment_id=payment_id,
        event_id=f"evt_{payment_id}",
        kind=EventKind.CAPTURED,
        occurred_at=at,
        facts=PaymentFacts(
            currency="JPY", authorized_amount=amount, captured_amount=amount, authorized_at=at, captured_at=at
        ),
        metadata=PaymentMetadata(store_id=store_id, reservation_id=f"r-{payment_id}"),
    )


def captured_payment(
    provider: str = "sandbox",
    payment_id: str = "pay_1",
    *,
    store_id: str = "store-1",
    amount: int = 10_000,
    at: datetime = NOW - timedelta(days=2),
) -> Applied:
    """A captured payment as the processor makes it (no store involved)."""
    event = captured_event(provider, payment_id, store_id=store_id, amount=amount, at=at)
    applied = apply_event(new_payment(event), event, now=at)
    assert applied is not None
    return applied


def refund_request(
    payment: Payment, amount: int, *, key: str = "k1", existing: Sequence[Refund] = (), now: datetime = NOW
) -> RefundChange:
    """What a refund request of ``amount`` decides (the refund and its ledger debit), not written."""
    target = RefundTarget.from_payment(payment)
    command = RefundCommand(
        amount=amount, reason=RefundReason.CUSTOMER_REQUEST, idempotency_key=key, actor=FINANCE
    )
    return request_refund(target, list(existing), command, DEFAULT_PLANS.for_channel(target.channel), now=now)


# -- use cases on the fakes --------------------------------------------------------------------------


@dataclass
class FakeRefundWorld:
    """A refund service on fakes, and the fakes to look at."""

    payments: FakePayments = field(default_factory=FakePayments)
    ledgers: FakeLedgers = field(default_factory=FakeLedgers)
    book: FakeRefundBook = field(init=False)
    provider: FakeProvider = field(default_factory=lambda: FakeProvider("payjp", now=NOW))
    alerts: list[FinanceAlert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.book = FakeRefundBook(self.ledgers)

    def service(self, *, providers: Mapping[str, PaymentProvider] | None = None) -> RefundService:
        return RefundService(
            payments=self.payments,
            refunds=self.book,
            providers={self.provider.name: self.provider} if providers is None else providers,
            plans=DEFAULT_PLANS,
            publish=self.alerts.extend,
            backoff=NO_WAIT,
        )

    def captured(
        self, payment_id: str = "pay_1", *, amount: int = 10_000, store_id: str = "store-1"
    ) -> Payment:
        applied = captured_payment(self.provider.name, payment_id, store_id=store_id, amount=amount)
        self.payments.save(applied, expected_version=0)
        payment = applied.payment
        self.provider.payments[payment_id] = ProviderPayment(
            provider_payment_id=payment_id, facts=payment.facts, metadata=payment.metadata
        )
        return payment


def fake_ledger_service(ledgers: FakeLedgers | None = None) -> LedgerService:
    return LedgerService(ledgers or FakeLedgers(), DEFAULT_PLANS, backoff=NO_WAIT)


def fake_capture_deps(provider: FakeProvider, **overrides: Any) -> capture.Deps:
    """The capture use cases on fakes; the fakes are reachable as the deps' fields."""
    values: dict[str, Any] = {
        "payments": FakePayments(),
        "claims": FakeClaims(),
        "providers": lambda name: provider,
        "reservations": FakeReservations(),
        "events": FakePublisher(),
        "notices": FakeNotices(),
    }
    return capture.Deps(**(values | overrides))


def repayment_record(
    request_id: str, *, created_at: datetime = NOW, provider_payment_id: str = "ch_original"
) -> RepaymentRecord:
    """A re-payment request as started, with the sample evidence (``events/repayment/evidence.json``)."""
    sample = json.loads((EVENTS / "repayment" / "evidence.json").read_text(encoding="utf-8"))
    return RepaymentRecord(
        request_id=request_id,
        original_payment=PaymentRef(provider="payjp", provider_payment_id=provider_payment_id),
        evidence=RepaymentEvidence.model_validate(sample["evidence"]),
        fingerprint="f" * 64,
        created_at=created_at,
        updated_at=created_at,
    )
