"""Refunds reach the provider (PAY.JP emulator) with an idempotency key; a card-company rejection
reverses the refund, restores what may still be refunded and alerts finance (SPEC §5)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from cardops.sandbox.lambda_runner import FakeContext
from tests.helpers import call, change_feed, drain_changes, sqs_event


def captured_payment(emulator: Any, amount: int = 10000) -> str:
    """A charge captured at PAY.JP and recorded through its webhook (re-fetched from the emulator)."""
    from cardops.handlers.processor import handler

    charge = emulator.create_charge(
        {
            "amount": str(amount),
            "currency": "jpy",
            "card": "tok_visa",
            "metadata": {"store_id": "store_refund"},
        }
    )
    body = json.dumps(
        {"id": f"evnt_{charge['id']}", "type": "charge.succeeded", "data": {"id": charge["id"]}}
    )
    message = {"provider": "payjp", "event_id": f"evnt_{charge['id']}", "body": body}
    assert handler(sqs_event(message), FakeContext("processor")) == {"batchItemFailures": []}
    return str(charge["id"])


def refund(charge_id: str, amount: int) -> tuple[int, Any]:
    from cardops.handlers.admin import handler

    return call(
        handler,
        "POST",
        f"/admin/payments/payjp/{charge_id}/refunds",
        {"amount": amount, "reason": "customer_request"},
    )


def test_refund_is_sent_to_payjp_once_with_an_idempotency_key(emulator: Any) -> None:
    charge_id = captured_payment(emulator)
    status, body = refund(charge_id, 3000)
    assert status in (200, 201), body
    assert body["status"] == "succeeded"
    assert emulator.charges[charge_id]["amount_refunded"] == 3000
    keys = [key for key, path in emulator._idempotent if path.endswith(f"{charge_id}/refund")]
    assert len(keys) == 1


def test_card_company_rejection_reverses_the_refund_and_alerts_finance(
    emulator: Any, provisioned: Any
) -> None:
    charge_id = captured_payment(emulator)
    emulator.faults["refund"] = ["decline"]
    status, body = refund(charge_id, 4000)
    assert status in (200, 201), body
    assert body["status"] == "rejected"
    assert emulator.charges[charge_id]["amount_refunded"] == 0
    # the rejected amount may be refunded again: the ceiling was restored
    status, body = refund(charge_id, 10000)
    assert (status, body["status"]) in ((200, "succeeded"), (201, "succeeded"))
    assert refund(charge_id, 1)[0] >= 400  # now nothing is left to refund
    messages = (
        boto3.client("sqs", region_name="ap-northeast-1")
        .receive_message(QueueUrl=provisioned.operator_queue_url, MaxNumberOfMessages=10)
        .get("Messages", [])
    )
    assert any("refund" in m["Body"] for m in messages)


def payjp_message(charge_id: str, event_type: str) -> dict[str, Any]:
    body = json.dumps({"id": f"evnt_{event_type}_{charge_id}", "type": event_type, "data": {"id": charge_id}})
    return {"provider": "payjp", "event_id": f"evnt_{event_type}_{charge_id}", "body": body}


def test_processor_reconciles_a_payjp_refund_total_under_its_own_role(emulator: Any) -> None:
    """The refund listener queries the payment's refunds inside the processor: its role must allow it."""
    from cardops.handlers import processor

    charge_id = captured_payment(emulator)
    assert refund(charge_id, 3000)[0] in (200, 201)
    result = processor.handler(
        sqs_event(payjp_message(charge_id, "charge.refunded")), FakeContext("processor")
    )
    assert result == {"batchItemFailures": []}


def test_a_listener_failing_after_the_save_is_finished_by_the_redelivery(
    emulator: Any, monkeypatch: Any
) -> None:
    """The payment is saved, then the ledger listener fails: the feed's retry must still post it."""
    from cardops.handlers import processor
    from cardops.payments import wiring as workflows

    failures = ["throttled once"]
    real = workflows.ledger_listener

    def flaky(change: Any) -> None:
        if failures:
            raise RuntimeError(failures.pop())
        real(change)

    monkeypatch.setattr(workflows, "ledger_listener", flaky)
    charge = emulator.create_charge(
        {"amount": "8000", "currency": "jpy", "card": "tok_visa", "metadata": {"store_id": "store_redo"}}
    )
    event = sqs_event(payjp_message(str(charge["id"]), "charge.succeeded"))

    assert processor.handler(event, FakeContext("processor")) == {"batchItemFailures": []}
    feed = change_feed()
    invocations = feed.invocations
    assert drain_changes() == 1  # failed once, delivered again by the feed's retry
    assert feed.invocations == invocations + 2 and failures == [] and feed.discarded == 0
    from cardops.handlers import admin

    status, body = call(admin.handler, "GET", "/admin/stores/store_redo/balance")
    assert status == 200
    [standard] = body["ledgers"]
    assert standard["balance"] == 8000 - 376  # the sale and its 4.7 % fee, posted once
