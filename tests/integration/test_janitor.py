"""The payments janitor: lost webhooks are repaired from the provider (what follows a write is the
change feed's, which a crash after the write cannot lose)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import boto3

from cardops.kernel import clock
from cardops.payments.domain.payments import CanonicalEvent, EventKind, PaymentStatus
from cardops.payments.providers import payjp as payjp_provider
from cardops.payments.providers.base import PaymentProvider
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases.janitor import reconcile_open_payments
from cardops.payments.use_cases.payment_events import apply_canonical
from cardops.sandbox.lambda_runner import FakeContext
from tests.helpers import drain_changes, sqs_event


def authorized_through_webhook(emulator: Any) -> str:
    from cardops.handlers.processor import handler

    charge = emulator.create_charge(
        {"amount": "6000", "currency": "jpy", "card": "tok_visa", "capture": "false", "expiry_days": "30"}
    )
    body = json.dumps(
        {"id": f"evnt_{charge['id']}", "type": "charge.succeeded", "data": {"id": charge["id"]}}
    )
    message = {"provider": "payjp", "event_id": f"evnt_{charge['id']}", "body": body}
    assert handler(sqs_event(message), FakeContext("processor")) == {"batchItemFailures": []}
    return str(charge["id"])


def stop_executions(provisioned: Any) -> None:
    """Leave no execution waiting after a test (moto cannot stop one that has not begun yet)."""
    sfn = boto3.client("stepfunctions", region_name="ap-northeast-1")
    for arn in provisioned.state_machine_arns.values():
        for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            for _ in range(50):
                try:
                    sfn.stop_execution(executionArn=execution["executionArn"])
                    break
                except AttributeError:
                    time.sleep(0.05)


def provider_for(emulator: Any) -> Any:
    from cardops.payments.providers import registry

    def lookup(name: str) -> PaymentProvider | None:
        return registry.provider_client(name) if name == "payjp" else None

    return lookup


def test_a_capture_whose_webhook_was_lost_is_repaired(emulator: Any, provisioned: Any) -> None:
    charge_id = authorized_through_webhook(emulator)
    emulator.capture_charge(charge_id, {})  # the emulator has no webhook URL: the webhook is lost
    payments = PaymentRepository()
    later = clock.now() + timedelta(hours=1)
    try:
        report = reconcile_open_payments(payments=payments, provider_for=provider_for(emulator), now=later)
        drain_changes()  # the repair's change reaches the listeners (its workflow is stopped)
    finally:
        stop_executions(provisioned)
    assert f"payjp/{charge_id}" in report.repaired
    found = payments.get_with_history("payjp", charge_id)
    assert found is not None
    payment, history = found
    assert payment.status is PaymentStatus.CAPTURED
    assert history[-1].actor == "janitor" and history[-1].to_status is PaymentStatus.CAPTURED
    # captured payments leave the janitor's index: the next run has nothing to do
    again = reconcile_open_payments(
        payments=payments, provider_for=provider_for(emulator), now=later + timedelta(hours=1)
    )
    assert again.examined == 0


def test_recently_changed_payments_are_left_to_their_webhooks(emulator: Any, provisioned: Any) -> None:
    authorized_through_webhook(emulator)
    try:
        report = reconcile_open_payments(
            payments=PaymentRepository(), provider_for=provider_for(emulator), now=clock.now()
        )
    finally:
        stop_executions(provisioned)
    assert report.examined == 0


def test_a_writer_dying_after_its_write_loses_no_workflow_start(emulator: Any, provisioned: Any) -> None:
    """The janitor used to re-run an unchanged payment's listeners to restart a lost start; the
    change feed delivers the write whatever became of its writer, so the janitor has nothing to redo."""
    charge = emulator.create_charge(
        {"amount": "5000", "currency": "jpy", "card": "tok_visa", "capture": "false", "expiry_days": "30"}
    )
    snapshot = payjp_provider.charge_to_payment(charge)
    event = CanonicalEvent(
        provider="payjp",
        provider_payment_id=charge["id"],
        event_id="evnt_start_lost",
        kind=EventKind.AUTHORIZED,
        occurred_at=clock.now(),
        facts=snapshot.facts,
        metadata=snapshot.metadata,
    )
    apply_canonical(event, PaymentRepository(), now=clock.now())  # the writer dies right after this
    sfn = boto3.client("stepfunctions", region_name="ap-northeast-1")
    machine = provisioned.state_machine_arns["CaptureDeadline"]
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    try:
        assert drain_changes() == 1
        assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
        report = reconcile_open_payments(
            payments=PaymentRepository(),
            provider_for=provider_for(emulator),
            now=clock.now() + timedelta(hours=1),
        )
        drain_changes()
        assert report.unchanged == 1 and report.repaired == []
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        assert len(executions) == 1
    finally:
        stop_executions(provisioned)


def test_the_scheduled_handler_reports(emulator: Any, provisioned: Any) -> None:
    from cardops.handlers.janitor import handler

    result = handler({"source": "aws.events", "detail-type": "Scheduled Event"}, FakeContext("janitor"))
    assert set(result) == {"examined", "repaired", "unchanged", "without_api", "failed"}
