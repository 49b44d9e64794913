"""Capture under DynamoDB throttling: a 503 the caller retries (idempotently) from the admin API,
and ``StoreUnavailable`` from the workflow's steps, which their state's Retry matches."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cardops import resources
from cardops.handlers import admin
from cardops.kernel import clock
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.dynamodb import StoreUnavailable
from cardops.payments.domain.payments import PaymentStatus
from cardops.payments.store.payments import PaymentRepository
from cardops.sandbox.lambda_runner import FakeContext
from tests.faults import dynamodb_fault
from tests.helpers import call
from tests.integration.deadline.conftest import RecordingProvider, authorize


def test_capture_save_throttled_is_503_and_the_retry_captures_once(
    workflow: Any, provider: RecordingProvider
) -> None:
    authorize(
        provider, "ch_thr", visit_date=tokyo_date(clock.now()) + timedelta(days=3), start_workflow=False
    )
    with dynamodb_fault("TransactWriteItems") as fault:
        status, answer = call(admin.handler, "POST", "/admin/payments/payjp/ch_thr/capture", {"amount": 5000})
    assert fault.hits == ["TransactWriteItems"]
    assert status == 503, answer
    payment = PaymentRepository().get("payjp", "ch_thr")
    assert payment is not None and payment.status is PaymentStatus.AUTHORIZED
    status, answer = call(admin.handler, "POST", "/admin/payments/payjp/ch_thr/capture", {"amount": 5000})
    assert status == 200 and answer["captured_amount"] == 5000
    keys = {key for op, pid, key in provider.calls if op == "capture" and pid == "ch_thr"}
    assert len(keys) == 1  # the retry reused the idempotency key: one capture at the provider


STEP_STATES = {"due": "DoWhatIsDue"}


@pytest.mark.parametrize(("action", "state"), sorted(STEP_STATES.items()))
def test_deadline_step_throttled_raises_what_its_state_retries(
    workflow: Any, provider: RecordingProvider, action: str, state: str
) -> None:
    from cardops.handlers.capture_deadline import handler

    authorize(
        provider, "ch_step", visit_date=tokyo_date(clock.now()) + timedelta(days=3), start_workflow=False
    )
    step = {
        "action": action,
        "provider": "payjp",
        "provider_payment_id": "ch_step",
        "since": clock.now().isoformat(),
    }
    with dynamodb_fault(times=20) as fault, pytest.raises(StoreUnavailable):
        handler(step, FakeContext("capture-deadline"))
    assert fault.hits
    definition = json.loads((resources.WORKFLOWS_DIR / "capture_deadline.asl.json").read_text())
    retried = {name for rule in definition["States"][state]["Retry"] for name in rule["ErrorEquals"]}
    assert StoreUnavailable.__name__ in retried
    payment = PaymentRepository().get("payjp", "ch_step")
    assert payment is not None and payment.status is PaymentStatus.AUTHORIZED
