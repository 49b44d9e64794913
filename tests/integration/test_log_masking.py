"""Logs carry no e-mail addresses, phone numbers, card numbers, names or secrets (SPEC §9)."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest

from cardops.kernel.observability import MaskingFormatter, mask_text
from tests.helpers import SECRETS, call, stripe_headers

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"0\d{1,4}-\d{1,4}-\d{3,4}")
#: the log lines' request and trace ids, taken out before the scan: their hex groups can read as a phone
#: number ("...a09-4572-809f..."), which made this test fail at random; nothing else is spared
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
CARD = re.compile(r"4242[ -]?4242[ -]?4242[ -]?4242")
HOLDER = "山田花子"
#: SBPS's merchant and service ids are identifiers that every SBPS notification carries, not credentials;
#: as short digit strings ("103") they also occur by chance in request ids and timestamps
CREDENTIALS = {
    key: value for key, value in SECRETS.items() if key not in {"sbps_merchant_id", "sbps_service_id"}
}


def scan(text: str) -> list[str]:
    text = UUID.sub("<id>", text)
    found = [m.group(0) for pattern in (EMAIL, PHONE, CARD) for m in pattern.finditer(text)]
    found += [secret for secret in CREDENTIALS.values() if secret in text]
    if HOLDER in text:
        found.append(HOLDER)
    return found


def test_masking_formatter_masks_each_kind() -> None:
    assert scan(mask_text("hanako@example.jp 090-1234-5678 4242 4242 4242 4242 whsec_cardops_sandbox")) == []
    # plain ids, amounts and timestamps are kept: they are what operators need
    assert mask_text("ch_1 amount 12000 at 20261122103000") == "ch_1 amount 12000 at 20261122103000"


def test_the_phone_scan_ignores_digits_inside_a_request_id() -> None:
    assert scan('{"request_id": "5f0c1a09-4572-809f-b2aa-0c9e1d2f3a4b"}') == []
    assert scan('{"tel": "090-1234-5678"}') == ["090-1234-5678"]
    assert scan('{"message": "TEL090-1234-5678"}') == ["090-1234-5678"]


def test_scanner_would_catch_an_unmasked_logger(capsys: pytest.CaptureFixture[str]) -> None:
    """The scan is not vacuous: a plain formatter leaks, the masking one does not."""
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "x", None, None)
    record.__dict__["email"] = "hanako@example.jp"
    leaky = json.dumps({"message": "x", "email": record.__dict__["email"]})
    assert scan(leaky) == ["hanako@example.jp"]
    masked = MaskingFormatter().serialize({"message": "x", "email": "hanako@example.jp"})
    assert scan(masked) == []


def test_handlers_log_no_personal_data(provisioned: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from cardops.api import admin
    from cardops.handlers import admin as admin_handler
    from cardops.handlers import processor
    from cardops.handlers import webhook as webhook_handler
    from cardops.payments.routes import webhooks

    # the functions' own handlers, whatever stream they were created with, write to one buffer here
    buffer = io.StringIO()
    loggers = (admin.logger, webhooks.logger, processor.logger)
    streams = [logger.registered_handler.setStream(buffer) for logger in loggers]
    for logger in loggers:
        logger.setLevel("DEBUG")
    try:
        reservation = {
            "store_id": "store_1",
            "holder_name": HOLDER,
            "email": "hanako@example.jp",
            "tel": "090-1234-5678",
            "reserved_at": "2026-12-24T19:00:00+09:00",
            "amount": 12000,
            "tax_treatment": "inclusive",
        }
        assert call(admin_handler.handler, "PUT", "/admin/reservations/rsv_1", reservation)[0] == 200
        assert call(admin_handler.handler, "GET", "/admin/reservations/rsv_1")[0] == 200
        bad = {**reservation, "email": "not-an-email 4242 4242 4242 4242"}
        assert call(admin_handler.handler, "PUT", "/admin/reservations/rsv_2", bad)[0] == 422
        body = json.dumps(
            {
                "id": "evt_pii",
                "object": "event",
                "type": "payment_intent.succeeded",
                "receipt_email": "hanako@example.jp",
                "data": {"object": {"id": "pi_1", "receipt_email": "hanako@example.jp"}},
            }
        ).encode()
        assert call(webhook_handler.handler, "POST", "/webhooks/stripe", body, stripe_headers(body))[0] == 200
        assert (
            call(webhook_handler.handler, "POST", "/webhooks/payjp", body, {"X-Payjp-Webhook-Token": "bad"})[
                0
            ]
            == 401
        )
    finally:
        for logger, stream in zip(loggers, streams, strict=True):
            logger.setLevel("WARNING")
            logger.registered_handler.setStream(stream)
    output = capsys.readouterr()
    logged = buffer.getvalue() + output.out + output.err
    assert "admin request" in logged, (
        "the DEBUG request log must have been written for the scan to mean anything"
    )
    assert scan(logged) == []
