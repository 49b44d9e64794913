"""Capture-deadline workflow fixtures: the real definition and handlers in moto, a recording provider."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from cardops.payments.domain.payments import PaymentFacts, PaymentMetadata
from cardops.payments.providers.base import PermanentProviderError, ProviderPayment


class RecordingProvider:
    """A provider in test mode: holds one authorization per id, records every call, injects failures."""

    name = "payjp"

    def __init__(self) -> None:
        self.charges: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, str | None]] = []
        self.cancel_failures: list[Exception] = []
        self.capture_delay = 0.0
        self._lock = threading.Lock()

    def authorize(self, payment_id: str, amount: int, authorized_at: datetime) -> None:
        self.charges[payment_id] = {"amount": amount, "captured": 0, "released": False, "at": authorized_at}

    def _snapshot(self, payment_id: str) -> ProviderPayment:
        charge = self.charges[payment_id]
        return ProviderPayment(
            provider_payment_id=payment_id,
            facts=PaymentFacts(
                currency="JPY",
                authorized_amount=charge["amount"],
                captured_amount=charge["captured"],
                canceled=charge["released"],
                authorized_at=charge["at"],
            ),
            metadata=PaymentMetadata(),
        )

    def retrieve(self, payment_id: str) -> ProviderPayment:
        self.calls.append(("retrieve", payment_id, None))
        return self._snapshot(payment_id)

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> ProviderPayment:
        time.sleep(self.capture_delay)
        with self._lock:
            self.calls.append(("capture", payment_id, idempotency_key))
            charge = self.charges[payment_id]
            if charge["released"]:
                raise PermanentProviderError("already refunded", code="already_refunded", status=400)
            charge["captured"] = amount or charge["amount"]
            return self._snapshot(payment_id)

    def cancel_authorization(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        with self._lock:
            self.calls.append(("cancel", payment_id, idempotency_key))
            if self.cancel_failures:
                raise self.cancel_failures.pop(0)
            charge = self.charges[payment_id]
            if charge["captured"]:
                raise PermanentProviderError("already captured", code="already_captured", status=400)
            charge["released"] = True
            return self._snapshot(payment_id)

    def refund(self, payment_id: str, *, amount: int, idempotency_key: str, reason: str | None = None) -> Any:
        raise AssertionError("the capture-deadline workflow never refunds a captured payment")

    def count(self, operation: str, payment_id: str) -> int:
        return sum(1 for op, pid, _ in self.calls if op == operation and pid == payment_id)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> RecordingProvider:
    recording = RecordingProvider()
    from cardops.payments.providers import registry

    # the workflow task and the admin API both get their clients from the registry
    monkeypatch.setattr(registry, "provider_client", lambda name: recording)
    return recording


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry intervals of the definition elapse at once (the number of attempts is still real)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))


@pytest.fixture
def workflow(provisioned: Any, provider: RecordingProvider, fast_retries: None) -> Iterator[Any]:
    from cardops.kernel import clock

    clock.reset()
    yield provisioned
    clock.reset()


def authorize(
    provider: RecordingProvider,
    payment_id: str,
    *,
    visit_date: date,
    amount: int = 12000,
    accepted_at: datetime | None = None,
    reservation_id: str | None = None,
    start_workflow: bool = True,
) -> Any:
    """An authorization arrives through processing: its write starts the workflow (through the
    change feed, drained here; ``start_workflow=False`` leaves the change undelivered)."""
    from cardops.kernel import clock
    from cardops.payments.domain.payments import CanonicalEvent, EventKind
    from cardops.payments.store.payments import PaymentRepository
    from cardops.payments.use_cases.payment_events import apply_canonical
    from tests.helpers import drain_changes

    now = clock.now()
    provider.authorize(payment_id, amount, now)
    event = CanonicalEvent(
        provider="payjp",
        provider_payment_id=payment_id,
        event_id=f"evt_{payment_id}",
        kind=EventKind.AUTHORIZED,
        occurred_at=now,
        facts=PaymentFacts(
            currency="JPY",
            authorized_amount=amount,
            authorized_at=now,
            authorization_expires_at=now + timedelta(days=60),
        ),
        metadata=PaymentMetadata(
            store_id="store-1",
            reservation_id=reservation_id or f"rsv-{payment_id}",
            visit_date=visit_date,
            accepted_at=accepted_at or now,
        ),
    )
    applied = apply_canonical(event, PaymentRepository(), now=now)
    if start_workflow:
        drain_changes()
    return applied


def wait_for_execution(
    arn: str, *, timeout: float = 20.0, until: frozenset[str] | None = None
) -> dict[str, Any]:
    """Until the execution ends; the change feed runs meanwhile, as it does beside the workflow in AWS
    (a capture's change stops the execution, an expiry's change is delivered)."""
    from cardops.kernel import aws
    from tests.helpers import drain_changes

    ended = until or frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
    stop = time.monotonic() + timeout
    while True:
        drain_changes()
        described = aws.stepfunctions().describe_execution(executionArn=arn)
        if described["status"] in ended:
            return dict(described)
        if time.monotonic() > stop:
            raise AssertionError(f"execution still {described['status']} after {timeout}s")
        time.sleep(0.05)


def execution_arn(provisioned: Any, payment_id: str) -> str:
    from cardops.payments.use_cases.capture import execution_name

    machine = provisioned.state_machine_arns["CaptureDeadline"]
    return machine.replace(":stateMachine:", ":execution:") + ":" + execution_name("payjp", payment_id)


def history(arn: str) -> list[dict[str, Any]]:
    from cardops.kernel import aws

    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn}
    while True:
        page = aws.stepfunctions().get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def entered_states(arn: str) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history(arn) if "stateEnteredEventDetails" in e]


def waiting_at(arn: str, waits: int, *, timeout: float = 10.0) -> None:
    """Block until the execution has entered its ``waits``-th Wait state (the clock may move then)."""
    stop = time.monotonic() + timeout
    while sum(1 for e in history(arn) if e["type"] == "WaitStateEntered") < waits:
        assert time.monotonic() < stop, f"execution never reached wait #{waits}"
        time.sleep(0.02)


def past_the_first_reminder(
    provisioned: Any, provider: RecordingProvider, payment_id: str, *, visit_in_days: int
) -> str:
    """An authorization (visit ``visit_in_days`` ahead) whose execution waited for its 72 h reminder
    and has just been woken for it (the clock is 71 h before the deadline); its execution's ARN."""
    from cardops.kernel import clock
    from cardops.kernel.calendar import tokyo_date
    from cardops.payments.store.payments import PaymentRepository

    authorize(provider, payment_id, visit_date=tokyo_date(clock.now()) + timedelta(days=visit_in_days))
    arn = execution_arn(provisioned, payment_id)
    payment = PaymentRepository().get("payjp", payment_id)
    assert payment is not None and payment.capture_deadline is not None
    waiting_at(arn, 1)
    clock.advance(payment.capture_deadline - clock.now() - timedelta(hours=71))
    return arn


class HoldInsideMoto:
    """Parks one chosen thread just after a call inside moto's DynamoDB until ``release`` is set (or 1 s
    passed): the exact window of a check-then-set or a rollback that is not atomic. With DynamoDB's
    atomicity nobody else gets in meanwhile, so the others simply wait for it."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        owner: Any,
        name: str,
        matches: Callable[..., bool] = lambda *args, **kwargs: True,
    ) -> None:
        original = getattr(owner, name)
        self.thread: threading.Thread | None = None
        self.reached = threading.Event()
        self.release = threading.Event()

        def held(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if (
                threading.current_thread() is self.thread
                and not self.reached.is_set()
                and matches(*args, **kwargs)
            ):
                self.reached.set()
                self.release.wait(timeout=1.0)
            return result

        monkeypatch.setattr(owner, name, held)

    def run(self, leader: Callable[[], None], follower: Callable[[], None]) -> None:
        """``leader`` until it is parked, then ``follower``; ``release`` once the follower is done."""

        def follow() -> None:
            try:
                follower()
            finally:
                self.release.set()

        self.thread = threading.Thread(target=leader)
        other = threading.Thread(target=follow)
        self.thread.start()
        assert self.reached.wait(timeout=10), "the leader never reached the held point"
        other.start()
        self.thread.join()
        other.join()


def recording_deps(provider: RecordingProvider, payments: Any = None) -> Any:
    """The capture use cases on the real stores, with the recording provider for every name."""
    from cardops.payments.store.claims import OutcomeClaims
    from cardops.payments.store.notifications import EventPublisher
    from cardops.payments.store.payments import PaymentRepository, ReservationRepository
    from cardops.payments.use_cases import capture

    return capture.Deps(
        payments=payments or PaymentRepository(),
        claims=OutcomeClaims(),
        providers=lambda name: provider,
        reservations=ReservationRepository(),
        events=EventPublisher(),
    )
