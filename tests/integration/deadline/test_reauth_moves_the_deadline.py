"""A PAY.JP re-authorization moves the capture deadline, and the waiting workflow follows it.

Issue 17 item 3: after ``Charge.reauth(expiry_days=7)`` (the official ``payjp`` library against the
emulator) the stored deadline must move to the new authorization bound, and the capture-deadline
execution — the real definition on moto's interpreter, waiting on the sandbox clock — must neither
remind nor cancel at the old deadline, but at the new one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import payjp
import pytest

from cardops import resources
from cardops.kernel import clock
from cardops.kernel.calendar import tokyo_date
from cardops.payments.store.payments import PaymentRepository
from cardops.sandbox.lambda_runner import FakeContext
from cardops.sandbox.payjp_emulator import PayjpEmulator
from tests.helpers import drain_changes, sqs_event
from tests.integration.deadline.conftest import execution_arn, history, wait_for_execution, waiting_at


@pytest.fixture
def emulator_on_the_clock(
    emulator: PayjpEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PayjpEmulator]:
    """The emulator (on the sandbox clock), with the official payjp library pointed at it."""
    monkeypatch.setattr(payjp, "api_base", emulator.url)
    monkeypatch.setattr(payjp, "api_key", resources.SANDBOX_SECRETS["payjp_secret_key"])
    clock.reset()
    yield emulator
    clock.reset()


def _deliver_new_events(emu: PayjpEmulator, seen: set[str]) -> None:
    """What PAY.JP's webhooks do in the sandbox: each new event goes through the real processor, and
    its change through the change feed."""
    from cardops.handlers.processor import handler

    for event in list(emu.events):
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        message = {"provider": "payjp", "event_id": event["id"], "body": json.dumps(event)}
        result = handler(sqs_event(message, event["id"]), FakeContext(function_name="processor"))
        assert result == {"batchItemFailures": []}
    drain_changes()


def _reminders_published(arn: str) -> int:
    outputs = [
        json.loads(e["taskSucceededEventDetails"]["output"])
        for e in history(arn)
        if e["type"] == "TaskSucceeded"
    ]
    return sum(1 for output in outputs if output.get("Payload", {}).get("published") is True)


def test_reauth_moves_the_deadline_and_the_waiting_execution_acts_on_the_new_one(
    provisioned: Any, emulator_on_the_clock: PayjpEmulator
) -> None:
    emu, seen = emulator_on_the_clock, set[str]()
    today = tokyo_date(clock.now())
    charge = payjp.Charge.create(
        amount=9900,
        currency="jpy",
        card="tok_visa",
        capture=False,
        expiry_days=3,
        metadata={
            "store_id": "store_reauth",
            "reservation_id": "rsv_reauth",
            "visit_date": (today + timedelta(days=20)).isoformat(),
            "accepted_at": clock.now().isoformat(),
        },
    )
    _deliver_new_events(emu, seen)
    before = PaymentRepository().get("payjp", charge.id)
    assert before is not None and before.deadline_bound == "authorization"
    assert before.capture_deadline is not None
    old_deadline = before.capture_deadline  # 3 days after the authorization, minus the margin
    arn = execution_arn(provisioned, charge.id)
    waiting_at(arn, 1)

    clock.advance(timedelta(days=1))
    reauthorized = payjp.Charge.retrieve(charge.id).reauth(expiry_days=7)
    assert reauthorized.expired_at > charge.expired_at
    _deliver_new_events(emu, seen)  # charge.updated

    after = PaymentRepository().get("payjp", charge.id)
    assert after is not None and after.capture_deadline is not None
    new_deadline = after.capture_deadline
    assert new_deadline - old_deadline == timedelta(seconds=reauthorized.expired_at - charge.expired_at)
    assert after.deadline_bound == "authorization" and after.status.value == "authorized"

    # past the old deadline: the execution wakes, sees the moved deadline and waits again
    clock.advance(old_deadline - clock.now() + timedelta(hours=1))
    waiting_at(arn, 2)
    assert emu.charges[charge.id]["refunded"] is False
    assert not any(json.loads(e["taskSucceededEventDetails"]["output"])["Payload"]["done"]
                   for e in history(arn) if e["type"] == "TaskSucceeded")  # fmt: skip
    assert _reminders_published(arn) == 0  # the old deadline's 24 h reminder is not due any more
    payment = PaymentRepository().get("payjp", charge.id)
    assert payment is not None and payment.status.value == "authorized"

    # past the new deadline: now it cancels
    clock.advance(new_deadline - clock.now() + timedelta(hours=1))
    done = wait_for_execution(arn)
    assert done["status"] == "SUCCEEDED"
    assert emu.charges[charge.id]["refunded"] is True
    _deliver_new_events(emu, seen)
    final = PaymentRepository().get("payjp", charge.id)
    assert final is not None and final.status.value == "expired_refunded"
