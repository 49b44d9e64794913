"""A capture stops the payment's deadline execution with one Step Functions call (issue 13), whether the
execution still runs, has already ended, or was never started."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cardops.handlers import admin
from cardops.kernel import aws, clock
from cardops.kernel.calendar import tokyo_date
from cardops.payments.domain.changes import Change
from cardops.payments.domain.payments import Payment, PaymentStatus
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.wiring import capture_deadline_listener
from tests.helpers import call, counting_aws_calls, drain_changes
from tests.integration.deadline.conftest import (
    RecordingProvider,
    authorize,
    execution_arn,
    wait_for_execution,
    waiting_at,
)


def _step_functions(counts: Any) -> dict[str, int]:
    return {op: n for op, n in counts.items() if op.startswith("stepfunctions:")}


def _captured(payment_id: str) -> Change:
    """The change a capture of the stored (authorized) payment delivers to the listeners."""
    payment = PaymentRepository().get("payjp", payment_id)
    assert payment is not None and payment.status is PaymentStatus.AUTHORIZED
    captured: Payment = payment.model_copy(update={"status": PaymentStatus.CAPTURED})
    return Change(old=payment, new=captured)


def test_a_running_execution_is_stopped_with_one_call(workflow: Any, provider: RecordingProvider) -> None:
    authorize(provider, "ch_run", visit_date=tokyo_date(clock.now()) + timedelta(days=3))
    arn = execution_arn(workflow, "ch_run")
    waiting_at(arn, 1)
    code, body = call(admin.handler, "POST", "/admin/payments/payjp/ch_run/capture", {"amount": 12000})
    assert code == 200, body

    with counting_aws_calls() as calls:
        drain_changes()  # the changes function, with its own role: StopExecution is all it may call

    assert _step_functions(calls) == {"stepfunctions:StopExecution": 1}
    assert wait_for_execution(arn)["status"] == "ABORTED"


def test_an_execution_that_already_ended_is_left_as_it_ended(
    workflow: Any, provider: RecordingProvider
) -> None:
    authorize(provider, "ch_done", visit_date=tokyo_date(clock.now()) + timedelta(days=3))
    arn = execution_arn(workflow, "ch_done")
    waiting_at(arn, 1)
    aws.stepfunctions().stop_execution(executionArn=arn, cause="ended before the capture")
    ended = wait_for_execution(arn)
    assert ended["status"] == "ABORTED"

    with counting_aws_calls() as calls:
        capture_deadline_listener(_captured("ch_done"))

    assert _step_functions(calls) == {"stepfunctions:StopExecution": 1}
    after = aws.stepfunctions().describe_execution(executionArn=arn)
    assert after["status"] == "ABORTED" and after["stopDate"] == ended["stopDate"]


def test_an_execution_never_started_costs_one_call_and_no_error(
    workflow: Any, provider: RecordingProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    visit = tokyo_date(clock.now()) + timedelta(days=3)
    authorize(provider, "ch_none", visit_date=visit, start_workflow=False)

    with counting_aws_calls() as calls:
        capture_deadline_listener(_captured("ch_none"))

    assert _step_functions(calls) == {"stepfunctions:StopExecution": 1}
    # ExecutionDoesNotExist is "nothing runs": not the listener's "execution not stopped" warning
    assert "execution not stopped" not in capsys.readouterr().out
