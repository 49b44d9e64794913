"""Capture and the capture-deadline steps (SPEC §3) on the in-memory fakes: one outcome per
authorization (captured or expired_refunded, never both), notices sent and kept on the payment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cardops.payments.domain.capture_deadline import deadline_of
from cardops.payments.domain.changes import Change
from cardops.payments.domain.payments import CanonicalEvent, EventKind, Payment, PaymentStatus
from cardops.payments.domain.reservations import Reservation
from cardops.payments.providers.base import PermanentProviderError
from cardops.payments.use_cases import capture
from cardops.payments.use_cases.payment_events import apply_canonical
from tests.builders import NOW, fake_capture_deps
from tests.fakes.payments import FakeProvider

STORE = "arn:aws:iam::123456789012:user/store"


def authorized(deps: capture.Deps, provider: FakeProvider, amount: int = 8000) -> Payment:
    snapshot = provider.authorize("pay_1", amount, at=NOW)
    event = snapshot.as_event(
        provider="payjp", event_id="evt_auth", kind=EventKind.AUTHORIZED, occurred_at=NOW
    )
    applied = apply_canonical(CanonicalEvent.model_validate(event), deps.payments, now=NOW)
    assert applied is not None
    reservation = {
        "reservation_id": "r-pay_1",
        "store_id": "store-1",
        "holder_name": "Yamada",
        "email": "y@example.com",
        "reserved_at": NOW,
        "amount": amount,
        "tax_treatment": "inclusive",
        "updated_at": NOW,
    }
    deps.reservations.put(Reservation.model_validate(reservation))
    return applied.payment


@pytest.fixture
def world() -> tuple[capture.Deps, FakeProvider]:
    provider = FakeProvider("payjp", now=NOW)
    return fake_capture_deps(provider), provider


def test_a_capture_before_the_deadline_captures_at_the_provider_once(world: Any) -> None:
    deps, provider = world
    authorized(deps, provider)
    payment = capture.capture(deps, "payjp", "pay_1", amount=None, now=NOW + timedelta(hours=1), actor=STORE)
    assert (payment.status, payment.facts.captured_amount) == (PaymentStatus.CAPTURED, 8000)
    assert [(name, kw["idempotency_key"]) for name, _, kw in provider.calls] == [
        ("capture", "capture-payjp-pay_1-full")
    ]
    assert deps.claims.claims[("payjp", "pay_1")].outcome == "capture"


def test_a_capture_after_the_automatic_refund_started_is_refused_without_calling_the_provider(
    world: Any,
) -> None:
    deps, provider = world
    authorized(deps, provider)
    deps.claims.claim("payjp", "pay_1", "expire", now=NOW)
    with pytest.raises(capture.AutomaticRefundStarted):
        capture.capture(deps, "payjp", "pay_1", amount=None, now=NOW + timedelta(hours=1), actor=STORE)
    assert provider.calls == []


def test_a_refused_capture_gives_the_outcome_back_so_the_deadline_can_still_release_it(world: Any) -> None:
    deps, provider = world
    payment = authorized(deps, provider)
    provider.fail["capture"] = ["refused"]
    with pytest.raises(PermanentProviderError):
        capture.capture(deps, "payjp", "pay_1", amount=None, now=NOW + timedelta(hours=1), actor=STORE)
    assert deps.claims.claims == {}
    deadline = deadline_of(payment)
    assert deadline is not None
    result = capture.expire(deps, "payjp", "pay_1", now=deadline + timedelta(seconds=1))
    assert result["outcome"] == "expired_refunded"


def test_at_the_deadline_the_authorization_is_released_the_reservation_not_established_and_both_told(
    world: Any,
) -> None:
    deps, provider = world
    payment = authorized(deps, provider)
    deadline = deadline_of(payment)
    assert deadline is not None
    assert capture.expire(deps, "payjp", "pay_1", now=deadline)["outcome"] == "not_due"
    result = capture.expire(deps, "payjp", "pay_1", now=deadline + timedelta(seconds=1))
    assert result == {"outcome": "expired_refunded", "status": "expired_refunded"}
    assert [name for name, _, _ in provider.calls] == ["retrieve", "cancel_authorization"]
    assert deps.reservations.get("r-pay_1").established is False
    assert deps.events.types() == ["AuthorizationExpiredRefunded"] * 2
    assert sorted(deps.notices.notices[("payjp", "pay_1")]) == [
        "expired-payjp-pay_1-customer",
        "expired-payjp-pay_1-store",
    ]
    again = capture.expire(deps, "payjp", "pay_1", now=deadline + timedelta(minutes=1))
    assert again["outcome"] == "expired_refunded"  # a retried step changes nothing
    assert len(provider.calls) == 2


def test_a_capture_made_behind_the_workflows_back_is_recorded_not_released(world: Any) -> None:
    deps, provider = world
    payment = authorized(deps, provider)
    provider.capture("pay_1", amount=None, idempotency_key="at-the-dashboard")
    deadline = deadline_of(payment)
    assert deadline is not None
    result = capture.expire(deps, "payjp", "pay_1", now=deadline + timedelta(seconds=1))
    assert result == {"outcome": "captured", "status": "captured"}
    assert "cancel_authorization" not in [name for name, _, _ in provider.calls]


def test_a_reminder_is_published_once_due_and_kept_on_the_payment(world: Any) -> None:
    deps, provider = world
    payment = authorized(deps, provider)
    step = capture.check(deps, "payjp", "pay_1", now=NOW)
    assert step["open"] is True
    hours = step["next"]["hours_before"]
    deadline = deadline_of(payment)
    assert deadline is not None
    assert capture.remind(deps, "payjp", "pay_1", hours_before=hours, now=deadline - timedelta(hours=hours))
    assert deps.events.types() == ["CaptureReminder"]
    assert list(deps.notices.notices[("payjp", "pay_1")]) == [f"reminder-payjp-pay_1-{hours}h"]


class Executions:
    """The capture-deadline executions the listener starts and stops, by name."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self.stopped: list[str] = []

    def start_once(self, arn: str, name: str, payload: dict[str, Any]) -> bool:
        return self.started.setdefault(name, payload) is payload

    def stop_if_running(self, arn: str, name: str, cause: str) -> None:
        self.stopped.append(name)


def listener_deps(deps: capture.Deps, executions: Executions) -> capture.DeadlineListenerDeps:
    return capture.DeadlineListenerDeps(
        claims=deps.claims,
        state_machine_arn="arn:aws:states:ap-northeast-1:123456789012:stateMachine:capture-deadline",
        start_once=executions.start_once,
        stop_if_running=executions.stop_if_running,
        now=lambda: NOW,
    )


def test_the_deadline_listener_starts_once_per_authorization_and_stops_when_captured(world: Any) -> None:
    deps, provider = world
    executions = Executions()
    listener = listener_deps(deps, executions)
    payment = authorized(deps, provider)
    change = Change(old=None, new=payment)
    capture.capture_deadline_listener(listener, change)
    capture.capture_deadline_listener(listener, change)  # the feed delivers it again
    assert list(executions.started) == ["capture-payjp-pay_1"]
    assert executions.started["capture-payjp-pay_1"]["wake"] == capture.first_wake(payment, now=NOW)

    captured = payment.model_copy(update={"status": PaymentStatus.CAPTURED})
    capture.capture_deadline_listener(listener, Change(old=payment, new=captured))
    assert executions.stopped == ["capture-payjp-pay_1"]


def test_the_deadline_listener_leaves_the_execution_making_the_expiry_running(world: Any) -> None:
    deps, provider = world
    executions = Executions()
    payment = authorized(deps, provider)
    deps.claims.claim("payjp", "pay_1", "expire", now=NOW)
    canceled = payment.model_copy(update={"status": PaymentStatus.CANCELED})
    capture.capture_deadline_listener(listener_deps(deps, executions), Change(old=payment, new=canceled))
    assert executions.stopped == []  # its own cancel: stopping it would abort the AutoRefund step
