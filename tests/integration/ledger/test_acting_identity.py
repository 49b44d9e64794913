"""The acting identity of admin changes is the IAM caller (issue 10 item 10), never a literal.

Deployed, API Gateway puts the SigV4 caller in ``requestContext.identity.userArn``; these requests
carry an assumed-role ARN there, as an operator using SSO would.
"""

from __future__ import annotations

from typing import Any

from cardops.handlers.admin import handler
from cardops.sandbox.gateway import api_gateway_event, sandbox_user_arn
from cardops.sandbox.lambda_runner import FakeContext
from tests.integration.ledger.conftest import CapturePayment

FINANCE = "arn:aws:sts::123456789012:assumed-role/cardops-finance/hanako.yamada"
SUPPORT = "arn:aws:iam::123456789012:user/support-desk-1"


def as_caller(method: str, path: str, body: bytes, arn: str | None) -> tuple[int, Any]:
    import json

    event = api_gateway_event(method, path, {"Content-Type": "application/json"}, body, user_arn=arn or "x")
    if arn is None:
        event["requestContext"]["identity"] = {"sourceIp": "198.51.100.7"}
    result = handler(event, FakeContext("admin"))
    return int(result["statusCode"]), json.loads(result["body"]) if result.get("body") else None


def test_refund_and_its_correction_record_each_caller(captured: CapturePayment) -> None:
    captured(amount=10_000)
    status, refund = as_caller(
        "POST",
        "/admin/payments/sandbox/pay_1/refunds",
        b'{"amount": 3000, "reason": "customer_request", "idempotency_key": "k-actor"}',
        FINANCE,
    )
    assert status == 201, refund
    assert [step["actor"] for step in refund["history"]] == [FINANCE]
    status, canceled = as_caller(
        "POST", f"/admin/payments/sandbox/pay_1/refunds/{refund['refund_id']}/cancel", b"", SUPPORT
    )
    assert status == 200, canceled
    assert [step["actor"] for step in canceled["history"]] == [FINANCE, SUPPORT]
    assert "admin" not in {step["actor"] for step in canceled["history"]}


def test_adjustment_records_the_caller_in_the_ledger(provisioned: Any) -> None:
    body = (
        b'{"channel": "standard", "currency": "JPY", "adjustment_id": "adj-actor", "amount": -1200,'
        b' "reason": "tax_rate_change", "memo": "8% to 10%"}'
    )
    status, entry = as_caller("POST", "/admin/stores/store-1/adjustments", body, FINANCE)
    assert status == 201, entry
    assert entry["recorded_by"] == FINANCE
    status, statement = as_caller(
        "GET", "/admin/stores/store-1/statement?channel=standard&currency=JPY", b"", SUPPORT
    )
    assert status == 200, statement
    assert [e["recorded_by"] for e in statement["entries"]] == [FINANCE]


def test_a_change_without_a_caller_identity_is_refused_and_changes_nothing(captured: CapturePayment) -> None:
    captured(amount=10_000)
    status, answer = as_caller(
        "POST",
        "/admin/payments/sandbox/pay_1/refunds",
        b'{"amount": 3000, "reason": "customer_request", "idempotency_key": "k-anon"}',
        None,
    )
    assert status == 403 and answer["error"]["code"] == "no_caller_identity"
    status, listing = as_caller("GET", "/admin/payments/sandbox/pay_1/refunds", b"", SUPPORT)
    assert status == 200 and listing["refunds"] == []


def test_sandbox_user_is_configurable() -> None:
    assert sandbox_user_arn({}) == "arn:aws:iam::000000000000:user/sandbox-operator"
    assert sandbox_user_arn({"CARDOPS_SANDBOX_USER": "taro"}) == "arn:aws:iam::000000000000:user/taro"
    assert sandbox_user_arn({"CARDOPS_SANDBOX_USER": FINANCE}) == FINANCE
    event = api_gateway_event("POST", "/webhooks/stripe", {}, b"{}")
    assert "userArn" not in event["requestContext"]["identity"]  # webhooks are not IAM-signed
