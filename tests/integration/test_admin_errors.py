"""Errors a user sees from the admin API (issue 17 item 6): each answer names what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import call


@pytest.fixture
def admin(provisioned: Any) -> Any:
    from cardops.handlers.admin import handler

    return handler


def test_missing_payment_and_reservation_are_named(admin: Any) -> None:
    status, body = call(admin, "GET", "/admin/payments/payjp/ch_x")
    assert status == 404 and body["error"]["message"] == "payment payjp/ch_x not found"
    status, body = call(admin, "GET", "/admin/reservations/rsv_missing")
    assert status == 404 and body["error"]["message"] == "reservation rsv_missing not found"


def test_unknown_route_keeps_its_own_message(admin: Any) -> None:
    status, body = call(admin, "GET", "/admin/no-such-thing")
    assert status == 404 and body["error"]["message"] == "no such admin route"


def test_capture_of_a_missing_payment_names_it(admin: Any) -> None:
    status, body = call(admin, "POST", "/admin/payments/payjp/ch_gone/capture", {})
    assert status == 404 and "payment payjp/ch_gone not found" in body["error"]["message"]


@pytest.mark.parametrize("number", ["5835678256247", "1234567890123", "58356782562"])
def test_invalid_corporate_number_is_refused_and_not_stored(admin: Any, number: str) -> None:
    status, body = call(admin, "PUT", "/admin/tenants/t_bad", {"corporate_number": number})
    assert status == 422, body
    assert body["error"]["code"] == "corporate_number_invalid"
    assert number in body["error"]["message"]
    assert call(admin, "GET", "/admin/tenants/t_bad")[0] == 404


def test_valid_and_missing_corporate_numbers_are_accepted(admin: Any) -> None:
    status, body = call(admin, "PUT", "/admin/tenants/t_ok", {"corporate_number": "5835-6782-56246"})
    assert status == 200 and body["corporate_number_status"] == "valid"
    status, body = call(admin, "PUT", "/admin/tenants/t_none", {"corporate_number": None})
    assert status == 200 and body["corporate_number_status"] == "corporate_number_missing"
