"""Hostile JSON and path input: a clear 400/404/422, never a crash, nothing stored (SPEC §1, issue 10)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import call, payjp_headers, stripe_headers

DEEP = b"[" * 10_000 + b"]" * 10_000
LONG_INT = b'{"id": "evt_long", "type": "charge.succeeded", "amount": 1' + b"0" * 5_000 + b"}"


@pytest.fixture
def webhook(provisioned: Any) -> Any:
    from cardops.handlers.webhook import handler

    return handler


@pytest.fixture
def admin(provisioned: Any) -> Any:
    from cardops.handlers.admin import handler

    return handler


def _stored_items(provisioned: Any) -> int:
    from cardops.kernel import aws

    return int(aws.dynamodb().scan(TableName=provisioned.table_name, Select="COUNT")["Count"])


@pytest.mark.parametrize("body", [DEEP, LONG_INT], ids=["nested-10000", "integer-5000-digits"])
@pytest.mark.parametrize("provider", ["stripe", "payjp"])
def test_signed_hostile_webhook_body_is_400_and_stores_nothing(
    webhook: Any, provisioned: Any, provider: str, body: bytes
) -> None:
    headers = stripe_headers(body) if provider == "stripe" else payjp_headers()
    status, payload = call(webhook, "POST", f"/webhooks/{provider}", body, headers)
    assert status == 400, payload
    assert payload["error"]["code"] == "malformed"
    assert "nested deeper" in payload["error"]["message"] or "integer longer" in payload["error"]["message"]
    assert _stored_items(provisioned) == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [(DEEP, "nested deeper than 64 levels"), (LONG_INT, "integer longer than 40 digits")],
    ids=["nested-10000", "integer-5000-digits"],
)
def test_hostile_admin_body_is_400_with_the_reason(admin: Any, body: bytes, words: str) -> None:
    status, payload = call(admin, "POST", "/admin/payments/payjp/ch_x/capture", body)
    assert status == 400, payload
    assert payload["error"]["code"] == "malformed_json"
    assert words in payload["error"]["message"]
    status, payload = call(admin, "PUT", "/admin/reservations/rsv_hostile", body)
    assert status == 400, payload


def test_unknown_provider_name_is_not_echoed_unbounded(
    webhook: Any, caplog: pytest.LogCaptureFixture
) -> None:
    name = "x" * 10_000 + "<b>"
    status, payload = call(webhook, "POST", f"/webhooks/{name}", b"{}")
    assert status == 404
    message = payload["error"]["message"]
    assert len(message) < 200 and "10000 more" not in message and "more characters" in message
    # control characters (a forged log line) never reach the answer
    control = "abc\u0007\u001b[31m\r\nforged: line"
    status, payload = call(webhook, "POST", f"/webhooks/{control}", b"{}")
    assert status == 404
    assert payload["error"]["code"] == "unknown_provider"
    assert not any(c in payload["error"]["message"] for c in "\u0007\u001b\r\n")


def test_unknown_provider_error_escapes_control_characters() -> None:
    from cardops.payments.use_cases.webhook_intake import UnknownProvider

    error = UnknownProvider("pay\r\njp\u0007" + "y" * 500)
    text = str(error)
    assert "\r" not in text and "\n" not in text and "\u0007" not in text
    assert "\\r\\n" in text and "\\x07" in text
    assert text.endswith("(+444 more characters)")
    assert len(text) < 160


def test_unknown_provider_in_logs_is_bounded(webhook: Any, caplog: pytest.LogCaptureFixture) -> None:
    from cardops.payments.routes import webhooks

    call(webhook, "POST", "/webhooks/" + "z" * 10_000 + "\n{}", b"{}")
    call(webhook, "POST", "/webhooks/" + "z" * 10_000, b"{}")
    formatter = webhooks.logger.registered_formatter
    written = [formatter.format(r) for r in caplog.records if r.getMessage() == "webhook rejected"]
    assert len(written) == 2
    assert all(len(line) < 2_000 and "\n" not in line for line in written)
    assert all(json.loads(line)["status"] == 404 for line in written)
