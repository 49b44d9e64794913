"""The capture ``amount`` is strict: anything but a positive integer ≤ authorized is refused, naming it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cardops.handlers import admin
from cardops.kernel import clock
from cardops.kernel.calendar import tokyo_date
from cardops.payments.domain.payments import PaymentStatus
from cardops.payments.store.payments import PaymentRepository
from tests.helpers import call, reservation_body
from tests.integration.deadline.conftest import RecordingProvider, authorize


@pytest.mark.parametrize(
    ("amount", "status"),
    [
        pytest.param(True, 422, id="true"),
        pytest.param(1.0, 422, id="float"),
        pytest.param("100", 422, id="string"),
        pytest.param(-100, 422, id="negative"),
        pytest.param(0, 422, id="zero"),
        pytest.param(12001, 422, id="over-authorized"),
        pytest.param(None, 422, id="null-is-not-omitted"),
    ],
)
def test_a_non_integer_or_out_of_range_amount_captures_nothing(
    workflow: Any, provider: RecordingProvider, amount: Any, status: int
) -> None:
    authorize(
        provider, "ch_strict", visit_date=tokyo_date(clock.now()) + timedelta(days=3), start_workflow=False
    )
    code, body = call(admin.handler, "POST", "/admin/payments/payjp/ch_strict/capture", {"amount": amount})
    if amount is None:
        # JSON null means "capture all" in the model; it is accepted, not half-applied
        assert code == 200 and body["captured_amount"] == 12000
        return
    assert code == status, body
    text = str(body["error"])
    assert "amount" in text
    assert provider.count("capture", "ch_strict") == 0
    payment = PaymentRepository().get("payjp", "ch_strict")
    assert payment is not None and payment.status is PaymentStatus.AUTHORIZED


def test_an_integer_amount_within_the_authorization_is_captured(
    workflow: Any, provider: RecordingProvider
) -> None:
    authorize(provider, "ch_ok", visit_date=tokyo_date(clock.now()) + timedelta(days=3), start_workflow=False)
    code, body = call(admin.handler, "POST", "/admin/payments/payjp/ch_ok/capture", {"amount": 5000})
    assert code == 200 and body["captured_amount"] == 5000


def test_a_reservation_amount_of_true_is_refused(workflow: Any) -> None:
    body = reservation_body(amount=True)
    code, answer = call(admin.handler, "PUT", "/admin/reservations/rsv_strict", body)
    assert code == 422 and "amount" in str(answer["error"])


def test_capture_through_the_api_records_the_caller_arn_in_the_history(
    workflow: Any, provider: RecordingProvider
) -> None:
    import json as _json

    from cardops.sandbox.gateway import api_gateway_event
    from cardops.sandbox.lambda_runner import FakeContext

    caller = "arn:aws:sts::123456789012:assumed-role/store-admin/suzuki"
    authorize(
        provider, "ch_who", visit_date=tokyo_date(clock.now()) + timedelta(days=3), start_workflow=False
    )
    event = api_gateway_event(
        "POST",
        "/admin/payments/payjp/ch_who/capture",
        {"Content-Type": "application/json"},
        b"{}",
        user_arn=caller,
    )
    result = admin.handler(event, FakeContext("admin"))
    assert result["statusCode"] == 200, result
    history = _json.loads(result["body"])["history"]
    assert history[-1]["to_status"] == "captured" and history[-1]["actor"] == caller
