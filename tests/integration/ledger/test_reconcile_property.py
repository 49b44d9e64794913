"""Property (issue 11 item 2): any interleaving of captures, refunds (through cardops and at the
provider), disputes, crashes (a listener not run, a write lost after the provider call) and retries
ends, after reconciliation, with ledger = payments; and reconciling again posts nothing.

Runs on moto with the real stores, listeners, refund use cases and provider-refund sync. The
provider is an in-memory stand-in that keeps the running refunded total and honours idempotency keys
(as PAY.JP and Stripe do); "the dashboard" refunds there directly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cardops.kernel import clock
from cardops.ledger.domain.fees import STANDARD_PLAN
from cardops.ledger.domain.ledger import Channel
from cardops.ledger.reconcile import reconcile_store
from cardops.ledger.store import LedgerStore, RefundStore
from cardops.ledger.wiring import ledger_listener, reconcile_deps
from cardops.payments.domain.changes import Change
from cardops.payments.domain.payments import (
    CanonicalEvent,
    EventKind,
    PaymentFacts,
    PaymentMetadata,
    RefundFact,
)
from cardops.payments.domain.provider_refunds import unexplained_refund
from cardops.payments.domain.refunds import RefundReason, refunds_counted
from cardops.payments.providers.base import (
    PermanentProviderError,
    ProviderPayment,
    TransientProviderError,
)
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases.payment_events import apply_canonical
from cardops.payments.use_cases.provider_refunds import resubmit_stuck_refunds
from cardops.payments.use_cases.refunds import RefundService
from cardops.payments.wiring import provider_refund_change_listener
from tests.builders import refund_service_on_moto

PAYMENTS = ("p1", "p2")
_examples = itertools.count()


class Crash(RuntimeError):
    """The function died after the provider answered, before cardops wrote the result."""


@dataclass
class FakeProvider:
    """The provider's side: what it captured and refunded, and the answers it gave per key."""

    name: str = "sandbox"
    captured: dict[str, int] = field(default_factory=dict)
    refunded: dict[str, int] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    #: idempotency key → how the first call for it goes wrong ("transient" | "crash_after")
    faults: dict[str, str] = field(default_factory=dict)

    def refund(self, payment_id: str, *, amount: int, idempotency_key: str, reason: str | None = None) -> Any:
        fault = self.faults.pop(idempotency_key, None)
        if fault == "transient":
            raise TransientProviderError("timeout")  # the provider never saw it
        if idempotency_key not in self.answered:
            if self.refunded.get(payment_id, 0) + amount > self.captured.get(payment_id, 0):
                raise PermanentProviderError("refund exceeds the refundable amount", code="invalid_amount")
            self.refunded[payment_id] = self.refunded.get(payment_id, 0) + amount
            self.answered.add(idempotency_key)
        if fault == "crash_after":
            raise Crash("died after the provider refunded")
        return ProviderPayment(
            provider_payment_id=payment_id, facts=PaymentFacts(), metadata=PaymentMetadata()
        )

    def dashboard_refund(self, payment_id: str, amount: int) -> None:
        if self.refunded.get(payment_id, 0) + amount <= self.captured.get(payment_id, 0):
            self.refunded[payment_id] = self.refunded.get(payment_id, 0) + amount


def listeners() -> list[Any]:
    return [ledger_listener, provider_refund_change_listener]


@dataclass
class World:
    store_id: str
    prefix: str
    provider: FakeProvider = field(default_factory=FakeProvider)
    events: itertools.count[int] = field(default_factory=itertools.count)

    def pid(self, p: str) -> str:
        return f"{self.prefix}_{p}"

    def apply(self, p: str, facts: PaymentFacts, kind: EventKind, crash: bool) -> None:
        event = CanonicalEvent(
            provider="sandbox",
            provider_payment_id=self.pid(p),
            event_id=f"evt_{next(self.events)}",
            kind=kind,
            occurred_at=clock.now(),
            facts=facts,
            metadata=PaymentMetadata(store_id=self.store_id),
        )
        applied = apply_canonical(event, PaymentRepository(), now=clock.now())
        if applied is not None and not crash:  # a crash: the change's listeners never ran
            for listener in listeners():
                listener(Change(old=None, new=applied.payment))

    def service(self) -> RefundService:
        return refund_service_on_moto(providers={"sandbox": self.provider}, publish=lambda _: None)


def capture(world: World, p: str, amount: int, crash: bool) -> None:
    if world.provider.captured.get(world.pid(p)):
        return  # a payment is captured once
    world.provider.captured[world.pid(p)] = amount
    now = clock.now()
    facts = PaymentFacts(
        currency="JPY", authorized_amount=amount, captured_amount=amount, authorized_at=now, captured_at=now
    )
    world.apply(p, facts, EventKind.CAPTURED, crash)


def cardops_refund(world: World, p: str, amount: int, fault: str) -> None:
    key = f"k{next(world.events)}"
    from cardops.payments.domain.refunds import refund_id_for

    if fault != "none":
        world.provider.faults[refund_id_for("sandbox", world.pid(p), key)] = fault
    try:
        world.service().request(
            "sandbox",
            world.pid(p),
            amount=amount,
            reason=RefundReason.CUSTOMER_REQUEST,
            idempotency_key=key,
            now=clock.now(),
            actor="arn:aws:iam::123456789012:user/finance",
        )
    except Exception as exc:  # refused (not captured, over the ceiling), pending, or crashed
        from cardops.payments.domain.refunds import RefundError
        from cardops.payments.use_cases.refunds import PaymentNotFoundError, RefundSubmissionPendingError

        assert isinstance(exc, RefundError | PaymentNotFoundError | RefundSubmissionPendingError | Crash), exc


def webhook(world: World, p: str, crash: bool) -> None:
    total = world.provider.refunded.get(world.pid(p), 0)
    if total:
        facts = PaymentFacts(refunds={"sandbox:amount_refunded": RefundFact(amount=total, state="succeeded")})
        world.apply(p, facts, EventKind.REFUNDED, crash)


def dispute(world: World, p: str, dispute_id: str, state: str, crash: bool) -> None:
    world.apply(p, PaymentFacts(disputes={dispute_id: state}), EventKind.UPDATED, crash)  # type: ignore[dict-item]


def retry(world: World, p: str) -> None:
    """A redelivery: the listeners run again on the stored payment."""
    repo = PaymentRepository()
    payment = repo.get("sandbox", world.pid(p))
    if payment is not None:
        for listener in listeners():
            listener(Change(old=None, new=payment))


payments = st.sampled_from(PAYMENTS)
operations = st.one_of(
    st.tuples(st.just("capture"), payments, st.integers(1000, 20_000), st.booleans()),
    st.tuples(
        st.just("refund"),
        payments,
        st.integers(1, 12_000),
        st.sampled_from(["none", "none", "transient", "crash_after"]),
    ),
    st.tuples(st.just("dashboard"), payments, st.integers(1, 12_000)),
    st.tuples(st.just("webhook"), payments, st.booleans()),
    st.tuples(
        st.just("dispute"),
        payments,
        st.sampled_from(["dp_1", "dp_2"]),
        st.sampled_from(["open", "lost", "won"]),
        st.booleans(),
    ),
    st.tuples(st.just("retry"), payments),
    st.tuples(st.just("sweep")),
)


def run(world: World, op: tuple[Any, ...]) -> None:
    name, *args = op
    if name == "capture":
        capture(world, args[0], args[1], args[2])
    elif name == "refund":
        cardops_refund(world, *args)
    elif name == "dashboard":
        world.provider.dashboard_refund(world.pid(args[0]), args[1])
    elif name == "webhook":
        webhook(world, *args)
    elif name == "dispute":
        dispute(world, *args)
    elif name == "retry":
        retry(world, args[0])
    else:
        resubmit_stuck_refunds(world.service(), now=clock.now() + timedelta(hours=1))


def expected_balance(world: World) -> int:
    """The ledger the payments imply: sales net of fees, counted refunds, lost disputes; and every
    refund the provider reported is among the refund records (none was left unexplained)."""
    total = 0
    for p in PAYMENTS:
        payment = PaymentRepository().get("sandbox", world.pid(p))
        if payment is None or payment.facts.captured_amount <= 0:
            continue
        captured = payment.facts.captured_amount
        lost = sum(1 for state in payment.facts.disputes.values() if state == "lost")
        refunds = RefundStore().of_payment("sandbox", world.pid(p))
        assert unexplained_refund(payment, refunds) == 0, (p, payment.facts.refunded_amount)
        counted = refunds_counted(refunds)
        total += captured - STANDARD_PLAN.fee_for(captured) - counted - captured * lost
    return total


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=14))
# the crash of each listener, always among the examples: a capture, a provider refund, a lost dispute
@example(ops=[("capture", "p1", 10_000, True)])
@example(ops=[("capture", "p1", 10_000, False), ("dashboard", "p1", 3000), ("webhook", "p1", True)])
@example(ops=[("capture", "p2", 5000, False), ("dispute", "p2", "dp_1", "lost", True)])
# a refund whose write was lost after the provider refunded, reported, then swept; one never sent
@example(
    ops=[
        ("capture", "p1", 10_000, False),
        ("refund", "p1", 4000, "crash_after"),
        ("webhook", "p1", False),
        ("refund", "p1", 6000, "transient"),
        ("dashboard", "p1", 6000),
        ("webhook", "p1", True),
        ("sweep",),
        ("webhook", "p1", False),
    ]
)
def test_after_reconciliation_the_ledger_equals_the_payments(
    provisioned: Any, ops: list[tuple[Any, ...]]
) -> None:
    n = next(_examples)
    world = World(store_id=f"store-prop-{n}", prefix=f"x{n}")
    for op in ops:
        run(world, op)
    deps = reconcile_deps()
    report = reconcile_store(world.store_id, deps, now=clock.now(), actor="test")
    assert report.unresolved == (), report.unresolved
    assert report.ledger_side == report.payments_side
    ledgers = LedgerStore()
    balance = sum(
        ledgers.load(world.store_id, channel, currency).ledger.balance
        for channel, currency in ledgers.ledgers_of(world.store_id)
    )
    assert balance == expected_balance(world)
    assert all(channel is Channel.STANDARD for channel, _ in ledgers.ledgers_of(world.store_id))
    again = reconcile_store(world.store_id, deps, now=clock.now(), actor="test")
    assert again.repaired_entries == 0 and again.differences == (), again.differences
