"""Stripe end to end through ``cardops local`` (issue 12 items 5 and 6): the official ``stripe``
library creates PaymentIntents in the sandbox's Stripe emulator, whose signed webhooks drive cardops;
each flow meets a provider fault on the way (``/_sandbox/faults``).

Runs its own sandbox: the janitor test moves the sandbox clock past the janitor's quiet period, and
the faults are switched on the one emulator, which the shared sandbox's other tests must not meet.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from cardops.payments.providers.stripe.client import API_VERSION
from tests.conftest import sandbox_of_its_own
from tests.helpers import (
    EmulatorControls,
    after_the_retry_interval,
    approve_repayment,
    booked_reservation,
    booking_metadata,
    eventually,
    payment_with_status,
    repayment,
    sandbox_cli,
    start_repayment,
)
from tests.helpers import sandbox_api as api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stripe-e2e")]  # one worker: one sandbox of its own
ROOT = Path(__file__).resolve().parents[2]
STORE = "store_stripe_e2e"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with sandbox_of_its_own(tmp_path_factory, "stripe-sandbox") as values:
        yield values


@pytest.fixture(scope="module")
def sdk(outputs: dict[str, Any]) -> stripe.StripeClient:
    """The official library, as a store's booking system uses it, pointed at the emulator."""
    return stripe.StripeClient(
        outputs["StripeSecretKey"],
        base_addresses={"api": outputs["StripeApiBaseUrl"]},
        stripe_version=API_VERSION,
    )


def emu(outputs: dict[str, Any]) -> EmulatorControls:
    return EmulatorControls(outputs["StripeApiBaseUrl"])


def events_of(outputs: dict[str, Any], intent_id: str, event_type: str) -> list[dict[str, Any]]:
    events = emu(outputs).events()
    return [
        e
        for e in events
        if e["type"] == event_type
        and intent_id in (e["data"]["object"].get("id"), e["data"]["object"].get("payment_intent"))
    ]


def authorize(
    sdk: stripe.StripeClient,
    outputs: dict[str, Any],
    *,
    visit_in_days: int,
    accepted_days_ago: int = 0,
    **extra: Any,
) -> stripe.PaymentIntent:
    reservation_id = extra.pop("reservation_id", f"rsv_stripe_{secrets.token_hex(4)}")
    params: Any = {
        "amount": 12000,
        "currency": "jpy",
        "capture_method": "manual",
        "payment_method": "pm_card_visa",
        "confirm": True,
        "metadata": booking_metadata(
            outputs, STORE, reservation_id, visit_in_days=visit_in_days, accepted_days_ago=accepted_days_ago
        ),
        **extra,
    }
    return sdk.v1.payment_intents.create(params=params)


def test_an_uncaptured_authorization_is_canceled_at_stripe_after_a_failed_cancel(
    outputs: dict[str, Any], sdk: stripe.StripeClient
) -> None:
    """The deadline passed long ago: the workflow cancels at once. Stripe fails the first cancel
    (every SDK attempt: 4 × 500), the workflow retries its step, the same key cancels once."""
    emu(outputs).fault("cancel", 4)
    intent = authorize(sdk, outputs, visit_in_days=-15, accepted_days_ago=20)
    cancel = f"/v1/payment_intents/{intent.id}/cancel"
    eventually(lambda: len(emu(outputs).keys_sent(cancel)) == 4)  # the first try failed

    payment = after_the_retry_interval(
        outputs, lambda: payment_with_status(outputs, "stripe", intent.id, "expired_refunded")
    )
    assert payment["captured_amount"] == 0
    assert payment["history"][-1]["to_status"] == "expired_refunded"
    released = sdk.v1.payment_intents.retrieve(intent.id)
    assert (released.status, released.cancellation_reason) == ("canceled", "abandoned")
    keys = emu(outputs).keys_sent(cancel)
    assert len(keys) == 5 and len(set(keys)) == 1  # 4 faulted attempts, then the one that canceled
    assert len(events_of(outputs, intent.id, "payment_intent.canceled")) == 1
    code, body = api(outputs, "POST", f"/admin/payments/stripe/{intent.id}/capture", {})
    assert code == 409 and body["error"]["code"] == "payment_not_capturable"


def test_capture_and_refund_through_faults_then_a_debit_memo(
    outputs: dict[str, Any], sdk: stripe.StripeClient
) -> None:
    intent = authorize(sdk, outputs, visit_in_days=3)
    eventually(lambda: payment_with_status(outputs, "stripe", intent.id, "authorized"))

    emu(outputs).fault("capture", 1)  # the SDK retries with the same key
    code, captured = api(outputs, "POST", f"/admin/payments/stripe/{intent.id}/capture", {"amount": 10000})
    assert code == 200, captured
    assert (
        emu(outputs).keys_sent(f"/v1/payment_intents/{intent.id}/capture")
        == [emu(outputs).keys_sent(f"/v1/payment_intents/{intent.id}/capture")[0]] * 2
    )
    eventually(lambda: payment_with_status(outputs, "stripe", intent.id, "captured"))

    emu(outputs).fault("refund", 2)
    body = {"amount": 3000, "reason": "customer_request", "idempotency_key": f"rf-{intent.id}"}
    code, refund = api(outputs, "POST", f"/admin/payments/stripe/{intent.id}/refunds", body)
    assert code == 201 and refund["status"] == "succeeded", refund
    payment = eventually(lambda: payment_with_status(outputs, "stripe", intent.id, "partially_refunded"))
    assert (payment["captured_amount"], payment["refunded_amount"]) == (10000, 3000)
    charge = sdk.v1.payment_intents.retrieve(
        intent.id, params={"expand": ["latest_charge.refunds"]}
    ).latest_charge
    assert isinstance(charge, stripe.Charge) and charge.amount_refunded == 3000
    assert charge.refunds is not None and len(charge.refunds.data) == 1

    # after it succeeded, a correction claims part of it back from the customer (no provider call)
    memo_path = f"/admin/payments/stripe/{intent.id}/refunds/{refund['refund_id']}/debit-memo"
    code, memo = api(outputs, "POST", memo_path, {"amount": 1000, "note": "refunded too much"})
    assert code == 201 and memo["amount"] == 1000, memo


def test_a_refund_stuck_by_a_fault_is_corrected_before_stripe_ever_saw_it(
    outputs: dict[str, Any], sdk: stripe.StripeClient
) -> None:
    intent = authorize(sdk, outputs, visit_in_days=3)
    eventually(lambda: payment_with_status(outputs, "stripe", intent.id, "authorized"))
    code, _ = api(outputs, "POST", f"/admin/payments/stripe/{intent.id}/capture", {})
    assert code == 200
    eventually(lambda: payment_with_status(outputs, "stripe", intent.id, "captured"))

    emu(outputs).fault("refund", 4)  # every SDK attempt fails: the refund stays requested
    body = {"amount": 5000, "reason": "overcharge", "idempotency_key": f"rf-{intent.id}"}
    code, pending = api(outputs, "POST", f"/admin/payments/stripe/{intent.id}/refunds", body)
    assert code == 503 and pending["error"]["code"] == "provider_unavailable", pending
    refund_id = pending["error"]["details"]["refund"]["refund_id"]

    amend = f"/admin/payments/stripe/{intent.id}/refunds/{refund_id}/amend"
    code, amended = api(outputs, "POST", amend, {"amount": 2000})
    assert code == 201 and amended["status"] == "succeeded" and amended["amount"] == 2000, amended
    payment = eventually(lambda: payment_with_status(outputs, "stripe", intent.id, "partially_refunded"))
    assert payment["refunded_amount"] == 2000
    charge = sdk.v1.payment_intents.retrieve(
        intent.id, params={"expand": ["latest_charge.refunds"]}
    ).latest_charge
    assert isinstance(charge, stripe.Charge) and charge.refunds is not None
    assert [r.amount for r in charge.refunds.data] == [2000]  # the first amount never reached Stripe


def _expired_original(
    outputs: dict[str, Any], sdk: stripe.StripeClient
) -> tuple[stripe.PaymentIntent, dict[str, Any], str]:
    """A reservation whose Stripe authorization (saved card, customer) lapsed: expired_refunded; the
    evidence for its re-payment and the customer."""
    evidence = booked_reservation(outputs)
    customer = sdk.v1.customers.create(params={"email": evidence["email"]})
    original = sdk.v1.payment_intents.create(
        params={
            "amount": 12000,
            "currency": "jpy",
            "capture_method": "manual",
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "setup_future_usage": "off_session",
            "confirm": True,
            "metadata": {
                "store_id": evidence["store_id"],
                "reservation_id": evidence["reservation_id"],
                "visit_date": "2025-03-05",
                "accepted_at": "2025-03-01T10:00:00+09:00",
            },
        }
    )
    eventually(lambda: payment_with_status(outputs, "stripe", original.id, "expired_refunded"), timeout=60)
    return original, evidence, customer.id


def test_a_stripe_original_is_charged_again_off_session_through_a_fault(
    outputs: dict[str, Any], sdk: stripe.StripeClient, tmp_path: Path
) -> None:
    original, evidence, customer_id = _expired_original(outputs, sdk)
    request_id = start_repayment(
        outputs, tmp_path, provider="stripe", original_id=original.id, evidence=evidence
    )
    assert repayment(outputs, request_id)["status"] == "awaiting_decision"

    emu(outputs).fault("create", 1)  # the first attempt of the charge fails; the SDK retries the same key
    shown = approve_repayment(outputs, request_id)

    new_id = shown["new_payment"]["provider_payment_id"]
    assert shown["new_payment"]["provider"] == "stripe" and new_id != original.id
    charged = sdk.v1.payment_intents.retrieve(new_id)
    assert (charged.status, charged.amount_received, charged.customer) == ("succeeded", 12000, customer_id)
    assert charged.metadata is not None and charged.metadata["repayment_of"] == original.id
    assert charged.metadata["reservation_id"] == evidence["reservation_id"]
    creates = emu(outputs).keys_sent("/v1/payment_intents")
    assert creates[-2:] == [creates[-1]] * 2 and creates[-1] is not None  # one key, retried once
    payment = eventually(lambda: payment_with_status(outputs, "stripe", new_id, "captured"))
    assert payment["captured_amount"] == 12000


def test_a_stripe_original_without_a_reusable_card_is_refused_by_name(
    outputs: dict[str, Any], sdk: stripe.StripeClient, tmp_path: Path
) -> None:
    original, evidence, customer_id = _expired_original(outputs, sdk)
    # the customer's card is gone by the time the desk files the request: nothing to charge off-session
    emu(outputs).call("POST", f"/_sandbox/customers/{customer_id}/detach_all")
    request_id = start_repayment(
        outputs, tmp_path, provider="stripe", original_id=original.id, evidence=evidence
    )

    shown = repayment(outputs, request_id)
    assert shown["status"] == "alternative_payment_required"
    assert shown["eligibility"]["reason"] == "card_not_reusable"
    assert shown["new_payment"] is None


def test_the_janitor_repairs_a_stripe_payment_whose_webhook_was_lost(
    outputs: dict[str, Any], sdk: stripe.StripeClient
) -> None:
    intent = authorize(sdk, outputs, visit_in_days=5)
    eventually(lambda: payment_with_status(outputs, "stripe", intent.id, "authorized"))
    emu(outputs).call("POST", "/_sandbox/webhooks", {"deliver": False})
    try:
        sdk.v1.payment_intents.capture(
            intent.id, params={"amount_to_capture": 7000}
        )  # from Stripe's dashboard
    finally:
        emu(outputs).call("POST", "/_sandbox/webhooks", {"deliver": True})
    assert payment_with_status(outputs, "stripe", intent.id, "authorized")  # cardops never heard of it

    sandbox_cli(outputs, "sandbox", "advance", "20m")  # past the janitor's quiet period
    sandbox_cli(
        outputs, "invoke", "janitor", "--event", str(ROOT / "events" / "janitor" / "schedule_event.json")
    )
    payment = eventually(lambda: payment_with_status(outputs, "stripe", intent.id, "captured"))
    assert payment["captured_amount"] == 7000
    assert payment["history"][-1]["actor"] == "janitor"
