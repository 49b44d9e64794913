"""End to end through ``cardops local`` with SBPS (the extended plan): authorizations made at the SBPS
emulator expire and are cancelled there by the capture-deadline workflow; captures, refunds and a
correction go through SBPS's XML API with a provider fault in the middle; the janitor repairs a
payment whose notification SBPS lost; an expired original whose card SBPS kept is charged again
(re-payment) through a system error.

Runs its own sandbox: these tests move the sandbox clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import urllib3
from click.testing import CliRunner
from pydantic import SecretStr

from cardops import resources
from cardops.cli.main import cli
from cardops.payments.providers.sbps.client import KnownPayment, SbpsClient, SbpsSettings
from tests.conftest import sandbox_of_its_own
from tests.e2e.test_capture_deadline_e2e import api
from tests.helpers import approve_repayment, booked_reservation, eventually, start_repayment

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sbps-e2e")]  # one worker: one sandbox of its own
HTTP = urllib3.PoolManager()
TOKYO = ZoneInfo("Asia/Tokyo")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with sandbox_of_its_own(tmp_path_factory, "sbps-sandbox") as values:
        yield values


def sbps(outputs: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    response = HTTP.request(method, outputs["SbpsApiBaseUrl"] + path, json=body)
    assert response.status == 200, response.data
    return response.json()


def cli_run(outputs: dict[str, Any], *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--outputs", outputs["_outputs_file"]])
    assert result.exit_code == 0, result.output
    return result


def authorize(
    outputs: dict[str, Any],
    amount: int,
    *,
    visit_in_days: int,
    store_id: str = "store_sbps_e2e",
    reservation_id: str | None = None,
    **customer: str,
) -> str:
    """A customer's authorization at SBPS; its result notification opens the payment in cardops.
    ``customer``: ``cust_code`` and ``cust_manage_flg`` "1" when SBPS is to keep the card."""
    code, clock = api(outputs, "GET", "/admin/sandbox/clock")
    assert code == 200
    visit = datetime.fromisoformat(clock["now"]).astimezone(TOKYO).date() + timedelta(days=visit_in_days)
    order = f"sbps_e2e_{secrets.token_hex(6)}"
    sbps(
        outputs,
        "POST",
        "/_sandbox/authorizations",
        {
            "order_id": order,
            "amount": amount,
            "free1": store_id,
            "free2": reservation_id or f"rsv_{order}",
            "free3": str(visit),
        }
        | customer,
    )
    return order


def payment_with(outputs: dict[str, Any], order: str, status: str) -> Any:
    code, body = api(outputs, "GET", f"/admin/payments/sbps/{order}")
    return body if code == 200 and body["status"] == status else None


def test_uncaptured_in_time_ends_expired_refunded_and_cancelled_at_sbps(outputs: dict[str, Any]) -> None:
    order = authorize(outputs, 8800, visit_in_days=1)
    authorized = eventually(lambda: payment_with(outputs, order, "authorized"))
    assert authorized["deadline_bound"] == "business"
    # SBPS has trouble at the deadline: one system error (NG type 90), retried with backoff
    sbps(outputs, "POST", "/_sandbox/faults", {"operation": "cancel", "mode": "system_error"})
    cli_run(outputs, "sandbox", "advance", "9d")

    payment = eventually(lambda: payment_with(outputs, order, "expired_refunded"))
    assert payment["captured_amount"] == 0
    at_sbps = sbps(outputs, "GET", f"/_sandbox/payments/{order}")
    assert at_sbps["status"] == "canceled"
    assert [op["status"] for op in at_sbps["operations"]] == ["authorized", "canceled"]
    code, body = api(outputs, "POST", f"/admin/payments/sbps/{order}/capture", {})
    assert code == 409 and body["error"]["code"] == "payment_not_capturable"


def test_capture_refund_and_correction_through_a_provider_fault(outputs: dict[str, Any]) -> None:
    order = authorize(outputs, 12000, visit_in_days=3)
    eventually(lambda: payment_with(outputs, order, "authorized"))
    sbps(outputs, "POST", "/_sandbox/faults", {"operation": "capture", "mode": "server_error"})
    code, captured = api(outputs, "POST", f"/admin/payments/sbps/{order}/capture", {"amount": 10000})
    assert code == 200, captured
    assert captured["captured_amount"] == 10000
    assert sbps(outputs, "GET", f"/_sandbox/payments/{order}")["captured_amount"] == 10000

    # SBPS answers 503 to the partial refund: it may or may not have happened, so it is not re-sent
    sbps(outputs, "POST", "/_sandbox/faults", {"operation": "refund", "mode": "server_error"})
    refund_body = {"amount": 3000, "reason": "overcharge", "idempotency_key": f"rf-{order}"}
    code, pending = api(outputs, "POST", f"/admin/payments/sbps/{order}/refunds", refund_body)
    assert code == 503 and pending["error"]["code"] == "provider_unavailable"
    refund = pending["error"]["details"]["refund"]
    assert refund["status"] == "requested"
    assert sbps(outputs, "GET", f"/_sandbox/payments/{order}")["refunded_amount"] == 0

    # the correction: the amount becomes 2500 (the old refund is reversed, a new one submitted)
    code, amended = api(
        outputs, "POST", f"/admin/payments/sbps/{order}/refunds/{refund['refund_id']}/amend", {"amount": 2500}
    )
    assert code == 201, amended
    assert amended["amount"] == 2500 and amended["status"] == "succeeded"
    at_sbps = sbps(outputs, "GET", f"/_sandbox/payments/{order}")
    assert at_sbps["refunded_amount"] == 2500 and at_sbps["status"] == "captured"

    # the rest, refunded in full; the notifications bring both refunds to the payment, once each
    code, rest = api(
        outputs,
        "POST",
        f"/admin/payments/sbps/{order}/refunds",
        {"amount": 7500, "reason": "overcharge", "idempotency_key": f"rf2-{order}"},
    )
    assert code == 201 and rest["status"] == "succeeded", rest
    payment = eventually(lambda: payment_with(outputs, order, "refunded"))
    assert payment["refunded_amount"] == 10000
    assert sbps(outputs, "GET", f"/_sandbox/payments/{order}")["status"] == "refunded"


def test_the_janitor_repairs_a_capture_whose_notification_was_lost(outputs: dict[str, Any]) -> None:
    order = authorize(outputs, 5000, visit_in_days=2)
    eventually(lambda: payment_with(outputs, order, "authorized"))
    view = sbps(outputs, "GET", f"/_sandbox/payments/{order}")
    # captured at SBPS behind cardops' back (its console), and SBPS's notification is lost
    sbps(outputs, "POST", "/_sandbox/faults", {"operation": "notify", "mode": "drop"})
    keys = resources.SANDBOX_SECRETS
    console = SbpsClient(
        SbpsSettings(
            api_url=outputs["SbpsApiBaseUrl"] + "/api/xmlapi.do",
            merchant_id=keys["sbps_merchant_id"],
            service_id=keys["sbps_service_id"],
            hash_key=SecretStr(keys["sbps_api_hash_key"]),
        ),
        known=lambda _: KnownPayment(view["tracking_id"], 5000, 0),
    )
    console.capture(order, amount=None, idempotency_key="console")
    assert sbps(outputs, "GET", f"/_sandbox/payments/{order}")["status"] == "captured"
    assert payment_with(outputs, order, "authorized")

    cli_run(outputs, "sandbox", "advance", "30m")  # past the janitor's quiet period
    event = str(ROOT / "events" / "janitor" / "schedule_event.json")
    cli_run(outputs, "invoke", "janitor", "--event", event, "--json")
    payment = eventually(lambda: payment_with(outputs, order, "captured"))
    assert payment["captured_amount"] == 5000
    assert payment["history"][-1]["actor"] == "janitor"


def test_an_expired_original_is_charged_again_on_the_kept_card_through_a_system_error(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    evidence = booked_reservation(outputs)
    customer = f"cust_{secrets.token_hex(6)}"
    order = authorize(
        outputs, evidence["amount"], visit_in_days=1, store_id=evidence["store_id"],
        reservation_id=evidence["reservation_id"], cust_code=customer, cust_manage_flg="1",
    )  # fmt: skip
    eventually(lambda: payment_with(outputs, order, "authorized"))
    cli_run(outputs, "sandbox", "advance", "9d")
    eventually(lambda: payment_with(outputs, order, "expired_refunded"))

    request_id = start_repayment(outputs, tmp_path, provider="sbps", original_id=order, evidence=evidence)
    # SBPS has trouble when the desk approves: the charge meets one system error (NG type 90)
    sbps(outputs, "POST", "/_sandbox/faults", {"operation": "charge", "mode": "system_error"})
    request = approve_repayment(outputs, request_id)
    assert sbps(outputs, "GET", "/_sandbox/faults")["faults"]["charge"] == []  # met, then retried

    new_id = request["new_payment"]["provider_payment_id"]
    assert new_id != order and request["original_payment"]["provider_payment_id"] == order
    at_sbps = sbps(outputs, "GET", f"/_sandbox/payments/{new_id}")
    assert (at_sbps["status"], at_sbps["captured_amount"], at_sbps["cust_code"]) == (
        "captured",
        12000,
        customer,
    )
    assert [op["status"] for op in at_sbps["operations"]] == ["authorized", "captured"]  # once
    payment = eventually(lambda: payment_with(outputs, new_id, "captured"))
    assert (
        payment["reservation_id"] == evidence["reservation_id"]
        and payment["store_id"] == evidence["store_id"]
    )
    assert payment["repayment_of"]["provider_payment_id"] == order  # linked both ways
    repaid = payment_with(outputs, order, "expired_refunded")["repaid_by"]
    assert [ref["provider_payment_id"] for ref in repaid] == [new_id]
    assert sbps(outputs, "GET", f"/_sandbox/payments/{order}")["status"] == "canceled"
