"""PAY.JP end to end through ``cardops local`` with a provider fault in the middle (issue 12 items 5
and 6): the official ``payjp`` library makes charges at the sandbox's PAY.JP emulator, whose webhooks
drive cardops; each flow meets a fault switched on at the emulator (``/_sandbox/faults``) and the
emulator's record of requests and events shows what PAY.JP did (one capture, not two).

cardops' PAY.JP client tries a call three times with the same idempotency key, so three faults make
the call itself fail: the workflow (or the operator's correction) takes over from there.

Runs its own sandbox, on one worker: the janitor test moves the sandbox clock past the janitor's
quiet period, and the faults are switched on the one emulator, which other tests must not meet.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import payjp
import pytest

from tests.conftest import sandbox_of_its_own
from tests.helpers import (
    EmulatorControls,
    after_the_retry_interval,
    approve_repayment,
    booked_reservation,
    booking_metadata,
    eventually,
    expired_payjp_original,
    payment_with_status,
    repayment,
    sandbox_cli,
    start_repayment,
)
from tests.helpers import sandbox_api as api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("payjp-e2e")]  # one worker: one sandbox of its own
ROOT = Path(__file__).resolve().parents[2]
STORE = "store_payjp_e2e"
#: the attempts cardops' PAY.JP client makes of one call (``ProviderHttp``): this many faults fail it
CLIENT_ATTEMPTS = 3


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with sandbox_of_its_own(tmp_path_factory, "payjp-sandbox") as values:
        yield values


@pytest.fixture(autouse=True)
def library(outputs: dict[str, Any]) -> None:
    """The official library, as a store's booking system uses it, pointed at this sandbox's emulator
    (per test: the shared sandbox's tests point the same module globals elsewhere)."""
    payjp.api_base = outputs["PayjpApiBaseUrl"]
    payjp.api_key = outputs["PayjpSecretKey"]


def emu(outputs: dict[str, Any]) -> EmulatorControls:
    return EmulatorControls(outputs["PayjpApiBaseUrl"])


def events_of(outputs: dict[str, Any], charge_id: str, event_type: str) -> list[dict[str, Any]]:
    events = emu(outputs).events()
    return [e for e in events if e["type"] == event_type and e["data"]["id"] == charge_id]


def payment(outputs: dict[str, Any], charge_id: str, *statuses: str) -> Any:
    return payment_with_status(outputs, "payjp", charge_id, *statuses)


def authorize(
    outputs: dict[str, Any],
    amount: int,
    *,
    visit_in_days: int,
    accepted_days_ago: int = 0,
    store: str = STORE,
) -> Any:
    """A customer's card authorization at PAY.JP (``capture=false``), as the booking system makes it."""
    reservation_id = f"rsv_payjp_{secrets.token_hex(4)}"
    return payjp.Charge.create(
        amount=amount,
        currency="jpy",
        card="tok_visa",
        capture=False,
        expiry_days=60,
        metadata=booking_metadata(
            outputs, store, reservation_id, visit_in_days=visit_in_days, accepted_days_ago=accepted_days_ago
        ),
    )


def refund_path(charge_id: str, *rest: str) -> str:
    return "/".join([f"/admin/payments/payjp/{charge_id}/refunds", *rest])


def test_an_uncaptured_authorization_is_released_at_payjp_after_a_failed_cancel(
    outputs: dict[str, Any],
) -> None:
    """The visit date passed long ago: the workflow cancels at once. PAY.JP releases an authorization
    with a refund, which fails on every attempt of the first try; the workflow retries its step and
    the same key releases it once."""
    emu(outputs).fault("refund", CLIENT_ATTEMPTS)
    charge = authorize(outputs, 8800, visit_in_days=-15, accepted_days_ago=20)
    release = f"/v1/charges/{charge.id}/refund"
    eventually(lambda: len(emu(outputs).keys_sent(release)) == CLIENT_ATTEMPTS)  # the first try failed
    assert payment(outputs, charge.id, "authorized")

    expired = after_the_retry_interval(outputs, lambda: payment(outputs, charge.id, "expired_refunded"))
    assert expired["captured_amount"] == 0
    assert expired["history"][-1]["to_status"] == "expired_refunded"
    released = payjp.Charge.retrieve(charge.id)
    assert (released.refunded, released.captured, released.amount_refunded) == (True, False, 8800)
    keys = emu(outputs).keys_sent(release)
    # the failed try (every attempt faulted), then the workflow's retry: one key, one release
    assert len(keys) == CLIENT_ATTEMPTS + 1 and len(set(keys)) == 1 and keys[0] is not None
    assert len(events_of(outputs, charge.id, "charge.refunded")) == 1
    code, body = api(outputs, "POST", f"/admin/payments/payjp/{charge.id}/capture", {})
    assert code == 409 and body["error"]["code"] == "payment_not_capturable"


def test_capture_and_refunds_through_faults_then_a_debit_memo(outputs: dict[str, Any]) -> None:
    store = f"store_payjp_{secrets.token_hex(4)}"  # its own ledger: the sums are this payment's
    charge = authorize(outputs, 12000, visit_in_days=3, store=store)
    eventually(lambda: payment(outputs, charge.id, "authorized"))

    emu(outputs).fault("capture", 1)  # PAY.JP answers 500; the client retries with the same key
    code, captured = api(outputs, "POST", f"/admin/payments/payjp/{charge.id}/capture", {"amount": 10000})
    assert code == 200 and captured["captured_amount"] == 10000, captured
    keys = emu(outputs).keys_sent(f"/v1/charges/{charge.id}/capture")
    assert len(keys) == 2 and keys[0] is not None and keys == [keys[0]] * 2
    assert len(events_of(outputs, charge.id, "charge.captured")) == 1  # captured once

    emu(outputs).fault("refund", CLIENT_ATTEMPTS - 1)  # the last attempt gets through
    body = {"amount": 3000, "reason": "customer_request", "idempotency_key": f"rf-{charge.id}"}
    code, first = api(outputs, "POST", refund_path(charge.id), body)
    assert code == 201 and first["status"] == "succeeded", first
    partial = eventually(lambda: payment(outputs, charge.id, "partially_refunded"))
    assert (partial["captured_amount"], partial["refunded_amount"]) == (10000, 3000)

    body = {"amount": 7000, "reason": "customer_request", "idempotency_key": f"rf2-{charge.id}"}
    code, rest = api(outputs, "POST", refund_path(charge.id), body)
    assert code == 201 and rest["status"] == "succeeded", rest
    refunded = eventually(lambda: payment(outputs, charge.id, "refunded"))
    assert (refunded["captured_amount"], refunded["refunded_amount"]) == (10000, 10000)
    at_payjp = payjp.Charge.retrieve(charge.id)
    assert (at_payjp.amount, at_payjp.amount_refunded, at_payjp.refunded) == (10000, 10000, True)
    refunds_sent = emu(outputs).keys_sent(f"/v1/charges/{charge.id}/refund")
    assert refunds_sent == [first["refund_id"]] * CLIENT_ATTEMPTS + [rest["refund_id"]]
    code, listed = api(outputs, "GET", refund_path(charge.id))
    assert code == 200
    # PAY.JP's webhooks report the total refunded: cardops' own two refunds explain it, nothing more
    assert sorted((r["amount"], r["status"], r["source"]) for r in listed["refunds"]) == [
        (3000, "succeeded", "cardops"),
        (7000, "succeeded", "cardops"),
    ]
    assert listed["remaining_refundable"] == 0

    # after it succeeded, a correction claims part of the first back from the customer (no PAY.JP call)
    requests_before = len(emu(outputs).call("GET", "/_sandbox/requests")["requests"])
    memo_body = {"amount": 1000, "note": "refunded too much"}
    code, memo = api(outputs, "POST", refund_path(charge.id, first["refund_id"], "debit-memo"), memo_body)
    assert code == 201 and memo["amount"] == 1000, memo
    assert len(emu(outputs).call("GET", "/_sandbox/requests")["requests"]) == requests_before
    # the store's ledger: the sale and each refund once (PAY.JP's totals add no provider refund)
    code, statement = api(outputs, "GET", f"/admin/stores/{store}/statement")
    assert code == 200
    moved = sorted((e["kind"], e["amount"]) for e in statement["entries"] if e["kind"] in ("sale", "refund"))
    assert moved == [("refund", -7000), ("refund", -3000), ("sale", 10000)]


def test_a_refund_stuck_by_a_fault_is_amended_before_payjp_ever_saw_it(outputs: dict[str, Any]) -> None:
    store = f"store_payjp_{secrets.token_hex(4)}"  # its own ledger: the sums are this payment's
    charge = authorize(outputs, 12000, visit_in_days=3, store=store)
    eventually(lambda: payment(outputs, charge.id, "authorized"))
    code, _ = api(outputs, "POST", f"/admin/payments/payjp/{charge.id}/capture", {})
    assert code == 200
    eventually(lambda: payment(outputs, charge.id, "captured"))

    emu(outputs).fault("refund", CLIENT_ATTEMPTS)  # every attempt fails: the refund stays requested
    body = {"amount": 5000, "reason": "overcharge", "idempotency_key": f"rf-{charge.id}"}
    code, pending = api(outputs, "POST", refund_path(charge.id), body)
    assert code == 503 and pending["error"]["code"] == "provider_unavailable", pending
    stuck = pending["error"]["details"]["refund"]
    assert stuck["status"] == "requested"
    assert payjp.Charge.retrieve(charge.id).amount_refunded == 0

    code, amended = api(
        outputs, "POST", refund_path(charge.id, stuck["refund_id"], "amend"), {"amount": 2000}
    )
    assert code == 201 and amended["status"] == "succeeded" and amended["amount"] == 2000, amended
    partial = eventually(lambda: payment(outputs, charge.id, "partially_refunded"))
    assert (partial["captured_amount"], partial["refunded_amount"]) == (12000, 2000)
    assert payjp.Charge.retrieve(charge.id).amount_refunded == 2000  # the first amount never reached PAY.JP
    keys = emu(outputs).keys_sent(f"/v1/charges/{charge.id}/refund")
    assert keys == [stuck["refund_id"]] * CLIENT_ATTEMPTS + [amended["refund_id"]]
    code, old = api(outputs, "GET", refund_path(charge.id, stuck["refund_id"]))
    assert code == 200 and old["replaced_by"] == amended["refund_id"]
    assert old["status"] == "reversed" and old["provider_refund_id"] is None
    # the store's ledger: the stuck refund booked and reversed, the amended one booked once
    code, statement = api(outputs, "GET", f"/admin/stores/{store}/statement")
    assert code == 200
    refunds = sorted((e["kind"], e["amount"]) for e in statement["entries"] if e["cause"]["kind"] == "refund")
    assert refunds == [("refund", -5000), ("refund", -2000), ("reversal", 5000)]


def test_an_expired_payjp_charge_is_charged_again_through_a_fault(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """The full re-payment flow (evidence, the .eml consent, the desk's approval by CLI); PAY.JP fails
    the new charge on every attempt of the first try, the workflow retries with the same key."""
    evidence = booked_reservation(outputs)
    # the visit date is long past: the capture-deadline workflow releases it at once (予約不成立)
    customer_id, original_id = expired_payjp_original(outputs, evidence)
    assert payjp.Charge.retrieve(original_id).refunded
    request_id = start_repayment(
        outputs,
        tmp_path,
        provider="payjp",
        original_id=original_id,
        evidence=evidence,
    )
    assert repayment(outputs, request_id)["status"] == "awaiting_decision"

    emu(outputs).fault("create", CLIENT_ATTEMPTS)
    shown = approve_repayment(outputs, request_id)

    new_id = shown["new_payment"]["provider_payment_id"]
    assert shown["new_payment"]["provider"] == "payjp" and new_id != original_id
    charged = payjp.Charge.retrieve(new_id)
    assert (charged.captured, charged.amount, charged.customer) == (True, 12000, customer_id)
    assert charged.metadata["repayment_of"] == original_id
    assert charged.metadata["reservation_id"] == evidence["reservation_id"]
    creates = [key for key in emu(outputs).keys_sent("/v1/charges") if key is not None]
    assert creates[-(CLIENT_ATTEMPTS + 1) :] == [creates[-1]] * (CLIENT_ATTEMPTS + 1)  # one key, retried
    made = [e for e in emu(outputs).events() if e["type"] == "charge.succeeded"]
    assert [e["data"]["id"] for e in made].count(new_id) == 1  # charged once
    assert sum(1 for e in made if e["data"]["metadata"].get("repayment_of") == original_id) == 1
    captured = eventually(lambda: payment(outputs, new_id, "captured"))
    assert captured["captured_amount"] == 12000 and captured["reservation_id"] == evidence["reservation_id"]

    text = sandbox_cli(outputs, "repayment", "show", request_id)
    assert "Charge the saved card once" in text and "✓" in text
    assert request_id in sandbox_cli(outputs, "repayment", "list")


def test_the_janitor_repairs_a_payjp_payment_whose_webhook_was_lost(outputs: dict[str, Any]) -> None:
    charge = authorize(outputs, 9000, visit_in_days=5)
    eventually(lambda: payment(outputs, charge.id, "authorized"))
    emu(outputs).call("POST", "/_sandbox/webhooks", {"deliver": False})
    try:
        charge.capture(amount=7000)  # from PAY.JP's dashboard; its webhook is lost
    finally:
        emu(outputs).call("POST", "/_sandbox/webhooks", {"deliver": True})
    assert len(events_of(outputs, charge.id, "charge.captured")) == 1
    assert payment(outputs, charge.id, "authorized")  # cardops never heard of it

    sandbox_cli(outputs, "sandbox", "advance", "20m")  # past the janitor's quiet period
    sandbox_cli(
        outputs, "invoke", "janitor", "--event", str(ROOT / "events" / "janitor" / "schedule_event.json")
    )
    repaired = eventually(lambda: payment(outputs, charge.id, "captured"))
    assert repaired["captured_amount"] == 7000
    assert repaired["history"][-1]["actor"] == "janitor"
