"""Admin API of refunds and ledgers against in-process moto: every route, hostile and duplicate input."""

from __future__ import annotations

from typing import Any

import pytest

from cardops.handlers import admin
from tests.helpers import call
from tests.integration.ledger.conftest import CapturePayment


def handler(event: dict[str, Any], context: Any) -> Any:
    """The admin function, looked up per call: ``provisioned`` runs it with its own role."""
    return admin.handler(event, context)


REFUNDS = "/admin/payments/sandbox/pay_1/refunds"


def refund(amount: int, key: str | None = None, reason: str = "customer_request") -> tuple[int, Any]:
    body: dict[str, Any] = {"amount": amount, "reason": reason}
    if key:
        body["idempotency_key"] = key
    return call(handler, "POST", REFUNDS, body)


def test_capture_posts_sale_and_fee_once(captured: CapturePayment) -> None:
    applied = captured(amount=10_000)
    from cardops.ledger.wiring import ledger_listener
    from tests.integration.ledger.conftest import as_change

    ledger_listener(as_change(applied))  # the change delivered again: nothing doubles
    status, body = call(handler, "GET", "/admin/stores/store-1/balance")
    assert status == 200
    [standard] = body["ledgers"]
    assert standard["channel"] == "standard"
    assert standard["balance"] == 10_000 - 470  # 4.7 % fee, rounded down
    assert standard["confirmed"] == 9_530


def test_refund_is_created_with_its_state_and_debits_the_ledger(captured: CapturePayment) -> None:
    captured(amount=10_000)
    status, body = refund(3_000, key="k1")
    assert status == 201
    assert body["status"] == "requested"  # the sandbox provider has no refund API wired
    assert body["amount"] == 3_000 and body["reason"] == "customer_request"
    again_status, again = refund(3_000, key="k1")
    assert again_status == 200 and again["refund_id"] == body["refund_id"]
    _, listing = call(handler, "GET", REFUNDS)
    assert [r["refund_id"] for r in listing["refunds"]] == [body["refund_id"]]
    assert listing["remaining_refundable"] == 7_000
    _, balance = call(handler, "GET", "/admin/stores/store-1/balance")
    assert balance["ledgers"][0]["balance"] == 9_530 - 3_000


def test_refund_over_the_captured_amount_is_refused_with_what_remains(captured: CapturePayment) -> None:
    captured(amount=10_000)
    assert refund(6_000, key="a")[0] == 201
    status, body = refund(5_000, key="b")
    assert status == 409
    assert body["error"]["code"] == "refund_exceeds_captured"
    assert body["error"]["details"]["remaining"] == 4_000


def test_same_key_with_other_amount_is_a_conflict(captured: CapturePayment) -> None:
    captured(amount=10_000)
    assert refund(1_000, key="same")[0] == 201
    status, body = refund(2_000, key="same")
    assert status == 409 and body["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "reason": "customer_request"},
        {"amount": -5, "reason": "customer_request"},
        {"amount": "100", "reason": "customer_request"},
        {"amount": 1.5, "reason": "customer_request"},
        {"amount": 100, "reason": "because"},
        {"amount": 100},
        {"amount": 100, "reason": "other", "extra": 1},
        {"amount": 100, "reason": "other", "idempotency_key": "x" * 300},
        {"amount": 100, "reason": "other", "idempotency_key": "../../etc"},
        {"amount": 10**15, "reason": "other"},
    ],
)
def test_malformed_refund_bodies_are_422(captured: CapturePayment, body: dict[str, Any]) -> None:
    captured(amount=10_000)
    status, answer = call(handler, "POST", REFUNDS, body)
    assert status == 422
    assert answer["error"]["code"] == "invalid_request"


def test_non_json_and_unknown_payment(captured: CapturePayment) -> None:
    captured(amount=10_000)
    assert call(handler, "POST", REFUNDS, b"{not json")[0] == 422
    status, body = call(
        handler, "POST", "/admin/payments/sandbox/nope/refunds", {"amount": 1, "reason": "other"}
    )
    assert status == 404 and body["error"]["code"] == "payment_not_found"
    assert (
        call(handler, "POST", "/admin/payments/evil/pay_1/refunds", {"amount": 1, "reason": "other"})[0]
        == 422
    )


def test_cancel_before_submission_restores_ledger_and_ceiling(captured: CapturePayment) -> None:
    captured(amount=10_000)
    _, created = refund(4_000, key="c")
    rid = created["refund_id"]
    status, canceled = call(handler, "POST", f"{REFUNDS}/{rid}/cancel")
    assert status == 200 and canceled["status"] == "canceled"
    assert call(handler, "POST", f"{REFUNDS}/{rid}/cancel")[0] == 200  # repeating is harmless
    _, listing = call(handler, "GET", REFUNDS)
    assert listing["remaining_refundable"] == 10_000
    _, statement = call(handler, "GET", "/admin/stores/store-1/statement")
    kinds = [e["kind"] for e in statement["entries"]]
    assert kinds.count("refund") == 1 and kinds.count("reversal") == 1
    assert statement["summary"]["balance"] == 9_530


def test_amend_reverses_and_creates_a_new_refund(captured: CapturePayment) -> None:
    captured(amount=10_000)
    _, created = refund(4_000, key="m")
    status, amended = call(handler, "POST", f"{REFUNDS}/{created['refund_id']}/amend", {"amount": 2_500})
    assert status == 201
    assert amended["amount"] == 2_500 and amended["replaces"] == created["refund_id"]
    _, old = call(handler, "GET", f"{REFUNDS}/{created['refund_id']}")
    assert old["status"] == "reversed" and old["replaced_by"] == amended["refund_id"]
    _, listing = call(handler, "GET", REFUNDS)
    assert listing["remaining_refundable"] == 7_500
    _, balance = call(handler, "GET", "/admin/stores/store-1/balance")
    assert balance["ledgers"][0]["balance"] == 9_530 - 2_500
    too_much = call(handler, "POST", f"{REFUNDS}/{amended['refund_id']}/amend", {"amount": 10_001})
    assert too_much[0] == 409


def test_debit_memo_needs_a_succeeded_refund_and_reverse_needs_submission(captured: CapturePayment) -> None:
    captured(amount=10_000)
    _, created = refund(1_000, key="d")
    rid = created["refund_id"]
    status, body = call(handler, "POST", f"{REFUNDS}/{rid}/debit-memo", {})
    assert status == 422 and body["error"]["code"] == "debit_memo_refused"
    status, body = call(handler, "POST", f"{REFUNDS}/{rid}/reverse")
    assert status == 409 and body["error"]["code"] == "invalid_refund_transition"
    assert call(handler, "POST", f"{REFUNDS}/rf_0000/cancel")[0] == 404
    assert call(handler, "POST", f"{REFUNDS}/not-a-refund/cancel")[0] == 422


def test_adjustment_then_negative_balance_refuses_payout_with_the_shortfall(captured: CapturePayment) -> None:
    captured(amount=10_000)
    adjustment = {
        "adjustment_id": "adj-1",
        "amount": -12_000,
        "reason": "multi_currency_overcharge",
        "memo": "USD booking charged twice",
    }
    status, entry = call(handler, "POST", "/admin/stores/store-1/adjustments", adjustment)
    assert status == 201 and entry["reason"] == "multi_currency_overcharge"
    assert call(handler, "POST", "/admin/stores/store-1/adjustments", adjustment)[0] == 201  # same id: once
    changed = {**adjustment, "amount": -1}
    assert call(handler, "POST", "/admin/stores/store-1/adjustments", changed)[0] == 409
    _, balance = call(handler, "GET", "/admin/stores/store-1/balance")
    assert balance["ledgers"][0]["balance"] == 9_530 - 12_000
    status, body = call(handler, "POST", "/admin/stores/store-1/payouts", {"request_id": "p1"})
    assert status == 409
    assert body["error"]["code"] == "negative_balance"
    assert body["error"]["details"]["shortfall"] == 2_470
    assert "2470" in body["error"]["message"]
    status, body = call(handler, "POST", "/admin/stores/store-1/settlements", {"settlement_id": "s1"})
    assert status == 200 and body["outcome"] == "carried_forward" and body["payout"] is None
    bank = {"settlement_id": "s2", "method": "bank_transfer"}
    status, body = call(handler, "POST", "/admin/stores/store-1/settlements", bank)
    assert status == 422 and body["error"]["code"] == "offset_refused"


@pytest.mark.parametrize(
    "body",
    [
        {"adjustment_id": "a", "amount": 0, "reason": "tax_rate_change"},
        {"adjustment_id": "a", "amount": 5, "reason": "made_up"},
        {"adjustment_id": "a b", "amount": 5, "reason": "tax_rate_change"},
        {"adjustment_id": "a", "amount": 5, "reason": "tax_rate_change", "currency": "XXX1"},
        {"adjustment_id": "a", "amount": 5, "reason": "tax_rate_change", "channel": "bank"},
    ],
)
def test_malformed_adjustments_are_422(provisioned: Any, body: dict[str, Any]) -> None:
    assert call(handler, "POST", "/admin/stores/store-1/adjustments", body)[0] == 422


def test_payout_pays_confirmed_balance_less_transfer_fee_once(captured: CapturePayment) -> None:
    captured(amount=10_000)
    status, payout = call(handler, "POST", "/admin/stores/store-1/payouts", {"request_id": "p1"})
    assert status == 201
    assert (payout["gross"], payout["transfer_fee"], payout["net"]) == (9_530, 500, 9_030)
    assert payout["scheduled_for"][8:] >= "15"
    again_status, again = call(handler, "POST", "/admin/stores/store-1/payouts", {"request_id": "p1"})
    assert again_status == 201 and again == payout
    _, balance = call(handler, "GET", "/admin/stores/store-1/balance")
    assert balance["ledgers"][0]["balance"] == 0
    status, body = call(handler, "POST", "/admin/stores/store-1/payouts", {"request_id": "p2"})
    assert status == 422 and body["error"]["code"] == "below_payout_minimum"


def test_payout_below_minimum_and_extended_channel(captured: CapturePayment) -> None:
    captured(amount=5_000)
    status, body = call(handler, "POST", "/admin/stores/store-1/payouts", {"request_id": "p"})
    assert status == 422 and body["error"]["details"]["minimum"] == 5_000
    status, body = call(
        handler, "POST", "/admin/stores/store-1/payouts", {"request_id": "p", "channel": "extended"}
    )
    assert status == 409 and body["error"]["code"] == "payout_by_provider_schedule"


def test_empty_store_has_no_ledgers(provisioned: Any) -> None:
    status, body = call(handler, "GET", "/admin/stores/nobody/balance")
    assert status == 200 and body["ledgers"] == []
    assert call(handler, "GET", "/admin/stores/bad%20id/balance")[0] in (404, 422)
