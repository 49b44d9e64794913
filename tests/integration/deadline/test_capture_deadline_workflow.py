"""The capture-deadline state machine: the real definition, executed by moto, with the real handlers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest

from cardops import resources
from cardops.handlers import admin
from cardops.kernel import aws, clock
from cardops.kernel.calendar import tokyo_date
from cardops.payments.domain.payments import PaymentStatus
from cardops.payments.domain.reservations import Reservation
from cardops.payments.providers.base import PermanentProviderError, TransientProviderError
from cardops.payments.store.payments import PaymentRepository, ReservationRepository
from tests.helpers import call
from tests.integration.deadline.conftest import (
    HoldInsideMoto,
    RecordingProvider,
    authorize,
    entered_states,
    execution_arn,
    history,
    past_the_first_reminder,
    recording_deps,
    wait_for_execution,
    waiting_at,
)

DEFINITION = resources.STATE_MACHINES["CaptureDeadline"].definition_path


def _past_deadline(provider: RecordingProvider, payment_id: str, **kwargs: Any) -> Any:
    """An authorization whose visit was 15 days ago: its deadline (visit + 7 days) has passed."""
    today = tokyo_date(clock.now())
    return authorize(
        provider,
        payment_id,
        visit_date=today - timedelta(days=15),
        accepted_at=clock.now() - timedelta(days=20),
        **kwargs,
    )


def _status(payment_id: str) -> PaymentStatus:
    payment = PaymentRepository().get("payjp", payment_id)
    assert payment is not None
    return payment.status


def test_definition_passes_statelint() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "statelint", str(DEFINITION)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_definition_has_the_placeholders_resources_substitutes() -> None:
    text = DEFINITION.read_text(encoding="utf-8")
    spec = resources.STATE_MACHINES["CaptureDeadline"]
    for placeholder, function_key in spec.function_substitutions.items():
        assert "${" + placeholder + "}" in text
        assert function_key in resources.FUNCTIONS
    states = json.loads(text)["States"]
    waits = [s for s in states.values() if s["Type"] == "Wait"]
    assert waits and all("TimestampPath" in s for s in waits)


def test_not_captured_is_cancelled_once_and_expired_refunded(
    workflow: Any, provider: RecordingProvider
) -> None:
    ReservationRepository().put(
        Reservation(
            reservation_id="rsv-ch_late",
            store_id="store-1",
            holder_name="山田 太郎",
            email="taro@example.com",
            reserved_at=clock.now() - timedelta(days=15),
            amount=12000,
            tax_treatment="inclusive",
            updated_at=clock.now(),
        )
    )
    _past_deadline(provider, "ch_late")
    done = wait_for_execution(execution_arn(workflow, "ch_late"))

    assert done["status"] == "SUCCEEDED"
    assert provider.count("cancel", "ch_late") == 1
    assert provider.count("capture", "ch_late") == 0
    assert _status("ch_late") is PaymentStatus.EXPIRED_REFUNDED
    reservation = ReservationRepository().get("rsv-ch_late")
    assert reservation is not None and reservation.established is False
    assert "ExpiredRefunded" in entered_states(done["executionArn"])
    code, body = call(admin.handler, "GET", "/admin/payments/payjp/ch_late")
    assert code == 200 and body["status"] == "expired_refunded"
    assert [h["to_status"] for h in body["history"]][-1] == "expired_refunded"
    # after the automatic refund the store cannot capture by itself: a clear 4xx
    code, body = call(admin.handler, "POST", "/admin/payments/payjp/ch_late/capture", {})
    assert code == 409 and body["error"]["code"] == "payment_not_capturable"
    assert "expired_refunded" in body["error"]["message"]


def test_captured_before_the_deadline_ends_without_cancel(workflow: Any, provider: RecordingProvider) -> None:
    visit = tokyo_date(clock.now()) + timedelta(days=3)
    authorize(provider, "ch_ontime", visit_date=visit)
    arn = execution_arn(workflow, "ch_ontime")
    waiting_at(arn, 1)
    # the execution waits for the first reminder
    code, body = call(admin.handler, "GET", "/admin/stores/store-1/uncaptured")
    assert code == 200 and [p["provider_payment_id"] for p in body["payments"]] == ["ch_ontime"]

    code, body = call(admin.handler, "POST", "/admin/payments/payjp/ch_ontime/capture", {"amount": 10000})
    assert code == 200, body
    assert body["status"] == "captured" and body["captured_amount"] == 10000
    # the capture stops the waiting execution at once: nothing idles until the deadline
    done = wait_for_execution(arn)

    assert done["status"] == "ABORTED"
    assert provider.count("cancel", "ch_ontime") == 0
    assert "AutoRefund" not in entered_states(arn)
    assert _status("ch_ontime") is PaymentStatus.CAPTURED
    code, body = call(admin.handler, "GET", "/admin/stores/store-1/uncaptured")
    assert body["payments"] == []


def test_reminders_are_published_then_the_deadline_cancels(
    workflow: Any, provider: RecordingProvider
) -> None:
    published: list[tuple[str, dict[str, Any]]] = []
    from cardops.payments.store import notifications as events

    original = events.EventPublisher.publish

    def record(self: Any, detail_type: str, detail: Any) -> None:
        published.append((detail_type, dict(detail)))
        original(self, detail_type, detail)

    pytest.MonkeyPatch().setattr(events.EventPublisher, "publish", record)
    authorize(provider, "ch_remind", visit_date=tokyo_date(clock.now()) + timedelta(days=1))
    arn = execution_arn(workflow, "ch_remind")
    payment = PaymentRepository().get("payjp", "ch_remind")
    assert payment is not None and payment.capture_deadline is not None
    waiting_at(arn, 1)
    clock.advance(payment.capture_deadline - clock.now() - timedelta(hours=71))
    _wait_published(published, 1)
    waiting_at(arn, 2)
    clock.advance(timedelta(hours=48))
    _wait_published(published, 2)
    waiting_at(arn, 3)
    clock.advance(timedelta(hours=24))
    done = wait_for_execution(arn)
    pytest.MonkeyPatch().undo()

    assert done["status"] == "SUCCEEDED"
    kinds = [(t, d.get("hours_before"), d["audience"]) for t, d in published]
    assert kinds == [
        ("CaptureReminder", 72, "store"),
        ("CaptureReminder", 24, "store"),
        ("AuthorizationExpiredRefunded", None, "store"),
        ("AuthorizationExpiredRefunded", None, "customer"),
    ]
    assert provider.count("cancel", "ch_remind") == 1
    # what was sent is on the payment itself, not only in the execution's history
    code, body = call(admin.handler, "GET", "/admin/payments/payjp/ch_remind")
    assert code == 200
    sent = [(n["kind"], n["audience"], n["hours_before"]) for n in body["notices"]]
    assert sent == [
        ("capture_reminder", "store", 72),
        ("capture_reminder", "store", 24),
        ("expired_refunded", "customer", None),
        ("expired_refunded", "store", None),
    ]
    assert all(n["capture_deadline"] == body["capture_deadline"] for n in body["notices"])


def _wait_published(published: list[Any], count: int) -> None:
    import time

    stop = time.monotonic() + 10
    while len(published) < count:
        assert time.monotonic() < stop, f"only {len(published)} events published"
        time.sleep(0.05)


def test_transient_cancel_failure_is_retried_then_succeeds(
    workflow: Any, provider: RecordingProvider
) -> None:
    provider.cancel_failures = [TransientProviderError("payjp: 503", status=503)]
    _past_deadline(provider, "ch_flaky")
    done = wait_for_execution(execution_arn(workflow, "ch_flaky"))

    assert done["status"] == "SUCCEEDED"
    assert provider.count("cancel", "ch_flaky") == 2
    keys = {key for op, pid, key in provider.calls if op == "cancel" and pid == "ch_flaky"}
    assert keys == {"expire-payjp-ch_flaky"}  # the retry reuses the idempotency key
    assert _status("ch_flaky") is PaymentStatus.EXPIRED_REFUNDED
    failed = [e for e in history(done["executionArn"]) if e["type"] == "TaskFailed"]
    assert len(failed) == 1 and failed[0]["taskFailedEventDetails"]["error"] == "TransientProviderError"


def test_permanent_cancel_failure_goes_to_the_operator_queue_and_the_alarm_metric(
    workflow: Any, provider: RecordingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardops.handlers import capture_deadline

    metrics: list[str] = []
    monkeypatch.setattr(
        capture_deadline.metrics, "add_metric", lambda name, unit, value: metrics.append(name)
    )
    provider.cancel_failures = [
        PermanentProviderError("payjp: invalid request", code="invalid_id", status=400)
    ]
    _past_deadline(provider, "ch_stuck")
    done = wait_for_execution(execution_arn(workflow, "ch_stuck"))

    assert done["status"] == "FAILED"
    assert done.get("error") == "AutoRefundFailed"
    assert provider.count("cancel", "ch_stuck") == 1  # a permanent error is not retried
    assert metrics.count("AutoRefundFailed") == 1
    messages = aws.sqs().receive_message(QueueUrl=workflow.operator_queue_url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert [(b["kind"], b["provider_payment_id"], b["error"]) for b in bodies] == [
        ("auto_refund_failed", "ch_stuck", "PermanentProviderError")
    ]
    assert _status("ch_stuck") is PaymentStatus.AUTHORIZED  # never marked refunded when it was not


def test_duplicate_start_is_a_no_op(workflow: Any, provider: RecordingProvider) -> None:
    from cardops.payments.domain.changes import Change
    from cardops.payments.wiring import capture_deadline_listener

    applied = authorize(provider, "ch_dup", visit_date=tokyo_date(clock.now()) + timedelta(days=5))
    change = Change(old=None, new=applied.payment)
    capture_deadline_listener(change)  # the feed delivers the change again
    capture_deadline_listener(change)
    machine = workflow.state_machine_arns["CaptureDeadline"]
    executions = aws.stepfunctions().list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == ["capture-payjp-ch_dup"]
    waiting_at(executions[0]["executionArn"], 1)
    clock.advance(timedelta(days=20))
    assert wait_for_execution(executions[0]["executionArn"])["status"] == "SUCCEEDED"
    from cardops.kernel.workflows import start_once

    # after it ended, the same name answers ExecutionAlreadyExists: still a no-op
    assert (
        start_once(machine, "capture-payjp-ch_dup", {"provider": "payjp", "provider_payment_id": "ch_dup"})
        is False
    )
    assert len(aws.stepfunctions().list_executions(stateMachineArn=machine)["executions"]) == 1
    assert provider.count("cancel", "ch_dup") == 1


def test_capture_racing_the_deadline_has_exactly_one_outcome(
    workflow: Any, provider: RecordingProvider
) -> None:
    """Store captures and the deadline fire at the same moment, many times over."""
    from cardops.payments.use_cases import capture

    deps = recording_deps(provider)
    provider.capture_delay = 0.01
    outcomes: dict[str, list[str]] = {}
    for n in range(12):
        payment_id = f"ch_race{n}"
        visit = tokyo_date(clock.now()) + timedelta(days=10)
        from cardops.payments.store.payments import PaymentRepository as Repo

        authorize(provider, payment_id, visit_date=visit, start_workflow=False)
        stored = Repo().get("payjp", payment_id)
        assert stored is not None and stored.capture_deadline is not None
        deadline = stored.capture_deadline
        results: list[str] = []
        barrier = threading.Barrier(2)

        def store_captures(
            pid: str = payment_id, at: Any = deadline, barrier: Any = barrier, results: Any = results
        ) -> None:
            barrier.wait()
            try:
                capture.capture(deps, "payjp", pid, amount=None, now=at - timedelta(seconds=1), actor="store")
                results.append("captured")
            except capture.CaptureRefused as exc:
                results.append(f"capture refused: {type(exc).__name__}")

        def deadline_fires(
            pid: str = payment_id, at: Any = deadline, barrier: Any = barrier, results: Any = results
        ) -> None:
            barrier.wait()
            try:
                results.append(capture.expire(deps, "payjp", pid, now=at + timedelta(seconds=1))["outcome"])
            except capture.CaptureInProgress:
                results.append("expire retried")

        threads = [threading.Thread(target=store_captures), threading.Thread(target=deadline_fires)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes[payment_id] = sorted(results)
        status = _status(payment_id)
        captured, released = provider.count("capture", payment_id), provider.count("cancel", payment_id)
        assert (captured, released) in {(1, 0), (0, 1)}, outcomes[payment_id]
        charge = provider.charges[payment_id]
        if captured:
            assert status is PaymentStatus.CAPTURED and charge["captured"] == 12000 and not charge["released"]
            assert "expired_refunded" not in results
        else:
            assert status is PaymentStatus.EXPIRED_REFUNDED and charge["captured"] == 0 and charge["released"]
            assert "captured" not in results


@pytest.mark.parametrize("first", ["capture", "expire"])
def test_a_claim_held_inside_its_conditional_write_keeps_the_other_side_out(
    workflow: Any, provider: RecordingProvider, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    """The race of the full run made deterministic: one side is paused inside its claim's write."""
    from cardops.payments.use_cases import capture

    deps = recording_deps(provider)
    payment_id = f"ch_held_{first}"
    authorize(
        provider, payment_id, visit_date=tokyo_date(clock.now()) + timedelta(days=10), start_workflow=False
    )
    stored = PaymentRepository().get("payjp", payment_id)
    assert stored is not None and stored.capture_deadline is not None
    deadline = stored.capture_deadline
    results: dict[str, str] = {}
    from moto.dynamodb.models import table

    # the leader is parked after moto read the #OUTCOME item, before it evaluated and wrote
    hold = HoldInsideMoto(monkeypatch, table, "get_filter_expression")

    def store_captures() -> None:
        try:
            capture.capture(
                deps, "payjp", payment_id, amount=None, now=deadline - timedelta(seconds=1), actor="store"
            )
            results["capture"] = "captured"
        except Exception as exc:  # recorded: a provider refusal here means both sides reached it
            results["capture"] = type(exc).__name__

    def deadline_fires() -> None:
        try:
            results["expire"] = capture.expire(
                deps, "payjp", payment_id, now=deadline + timedelta(seconds=1)
            )["outcome"]
        except Exception as exc:
            results["expire"] = type(exc).__name__

    sides = {"capture": store_captures, "expire": deadline_fires}
    hold.run(sides[first], sides["expire" if first == "capture" else "capture"])

    captured, released = provider.count("capture", payment_id), provider.count("cancel", payment_id)
    assert (captured, released) == ((1, 0) if first == "capture" else (0, 1)), results
    # the side kept out is refused either by the claim or, if it read the payment only after the
    # winner recorded its outcome, by the payment's status: both are the one-outcome rule
    if first == "capture":
        assert results["capture"] == "captured"
        assert results["expire"] in {"CaptureInProgress", "closed"}, results
        assert _status(payment_id) is PaymentStatus.CAPTURED
    else:
        assert results["expire"] == "expired_refunded"
        assert results["capture"] in {"AutomaticRefundStarted", "PaymentNotCapturable"}, results
        assert _status(payment_id) is PaymentStatus.EXPIRED_REFUNDED


def test_the_providers_notice_of_our_own_cancel_does_not_stop_the_execution_making_it(
    workflow: Any, provider: RecordingProvider
) -> None:
    """PAY.JP notifies the cancel the workflow just made (charge.refunded) and that webhook can be
    processed before the workflow records the expiry: authorized -> canceled must not stop the very
    execution that is cancelling, or it ends ABORTED instead of recording 予約不成立 itself."""
    from cardops.payments.domain.payments import EventKind
    from cardops.payments.use_cases.payment_events import apply_canonical
    from tests.helpers import drain_changes

    cancel = provider.cancel_authorization

    def cancel_then_webhook(payment_id: str, *, idempotency_key: str) -> Any:
        released = cancel(payment_id, idempotency_key=idempotency_key)
        event = released.as_event(
            provider="payjp", event_id=f"evnt_{payment_id}", kind=EventKind.CANCELED, occurred_at=clock.now()
        )
        apply_canonical(event, PaymentRepository(), now=clock.now())
        drain_changes()  # the cancel's change reaches the listeners before the workflow goes on
        return released

    provider.cancel_authorization = cancel_then_webhook  # type: ignore[method-assign]
    _past_deadline(provider, "ch_selfcancel")
    done = wait_for_execution(execution_arn(workflow, "ch_selfcancel"))

    assert done["status"] == "SUCCEEDED"
    assert "ExpiredRefunded" in entered_states(done["executionArn"])
    found = PaymentRepository().get_with_history("payjp", "ch_selfcancel")
    assert found is not None
    assert [(h.from_status, h.to_status) for h in found[1]] == [
        (None, PaymentStatus.AUTHORIZED),
        (PaymentStatus.AUTHORIZED, PaymentStatus.CANCELED),
        (PaymentStatus.CANCELED, PaymentStatus.EXPIRED_REFUNDED),
    ]


def test_a_reminder_that_cannot_be_sent_does_not_keep_the_deadline_from_cancelling(
    workflow: Any, provider: RecordingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EventBridge refuses the 72 h reminder through every retry: the execution waits on for the next
    reminder and the deadline (the previous definition failed here and left the authorization held)."""
    from cardops.payments.store import notifications as events

    original = events.EventPublisher.publish
    sent: list[Any] = []

    def publish(self: Any, detail_type: str, detail: Any) -> None:
        if detail.get("hours_before") == 72:
            raise events.EventsUnavailable("event CaptureReminder not accepted: ThrottlingException")
        sent.append(detail.get("hours_before"))
        original(self, detail_type, detail)

    monkeypatch.setattr(events.EventPublisher, "publish", publish)
    arn = past_the_first_reminder(workflow, provider, "ch_noremind", visit_in_days=1)
    waiting_at(arn, 2)
    failed = [e for e in history(arn) if e["type"] == "TaskFailed"]
    assert len(failed) == 7  # the first attempt and its 6 retries
    clock.advance(timedelta(hours=48))
    waiting_at(arn, 3)
    clock.advance(timedelta(hours=24))
    done = wait_for_execution(arn)

    assert done["status"] == "SUCCEEDED"
    assert sent == [24, None, None]  # the 24 h reminder, then the expiry's two notices
    assert provider.count("cancel", "ch_noremind") == 1
    assert _status("ch_noremind") is PaymentStatus.EXPIRED_REFUNDED
    messages = aws.sqs().receive_message(QueueUrl=workflow.operator_queue_url).get("Messages", [])
    assert messages == []  # a missed reminder is not an automatic refund that failed


def test_an_execution_started_on_the_previous_definition_still_completes(
    workflow: Any, provider: RecordingProvider
) -> None:
    """A deploy changes the definition of new executions only: one started before it still runs the
    previous definition's steps (check, remind, expire) on the new task function."""
    from pathlib import Path

    previous = (Path(__file__).parent / "capture_deadline_previous.asl.json").read_text(encoding="utf-8")
    function = aws.client("lambda").get_function(FunctionName=workflow.function_names["capture_deadline"])
    sfn = aws.stepfunctions()
    machine = sfn.create_state_machine(
        name="cardops-test-CaptureDeadlinePrevious",
        definition=previous.replace(
            "${CaptureDeadlineFunctionArn}", function["Configuration"]["FunctionArn"]
        ),
        roleArn=function["Configuration"]["Role"],
        type="STANDARD",
    )["stateMachineArn"]
    authorize(
        provider, "ch_inflight", visit_date=tokyo_date(clock.now()) + timedelta(days=1), start_workflow=False
    )
    # the authorization's change would start a second, new-definition execution racing this one to
    # the expiry (whichever claims the outcome first acts): this payment has only the old one
    from tests.helpers import change_feed

    change_feed().skip()
    payment = PaymentRepository().get("payjp", "ch_inflight")
    assert payment is not None and payment.capture_deadline is not None
    started = sfn.start_execution(
        stateMachineArn=machine,
        name="capture-payjp-ch_inflight",
        input=json.dumps({"provider": "payjp", "provider_payment_id": "ch_inflight"}),
    )
    arn = started["executionArn"]
    waiting_at(arn, 1)
    clock.advance(payment.capture_deadline - clock.now() - timedelta(hours=71))
    waiting_at(arn, 2)  # the 72 h reminder sent; then past the deadline at once
    clock.advance(timedelta(hours=72))
    done = wait_for_execution(arn)

    assert done["status"] == "SUCCEEDED"
    states = entered_states(arn)
    assert states[:2] == ["CheckPayment", "IsOpen"] and states.count("RemindStore") == 2
    assert states[-3:] == ["AutoRefund", "AutoRefundOutcome", "ExpiredRefunded"]
    assert provider.count("cancel", "ch_inflight") == 1
    assert _status("ch_inflight") is PaymentStatus.EXPIRED_REFUNDED
    code, body = call(admin.handler, "GET", "/admin/payments/payjp/ch_inflight")
    assert code == 200
    assert [(n["kind"], n["hours_before"]) for n in body["notices"] if n["audience"] == "store"] == [
        ("capture_reminder", 72),
        ("expired_refunded", None),
    ]
