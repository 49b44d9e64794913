"""End to end through `cardops local`: the official payjp library, the emulator, webhooks, the processor."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import payjp
import pytest
import urllib3

from tests.conftest import SandboxProcess
from tests.helpers import eventually, payjp_headers, stripe_headers

HTTP = urllib3.PoolManager(maxsize=64)


def get_payment(sandbox: SandboxProcess, provider: str, payment_id: str) -> dict[str, Any] | None:
    response = HTTP.request("GET", f"{sandbox.api}/admin/payments/{provider}/{payment_id}")
    return json.loads(response.data) if response.status == 200 else None


@pytest.fixture
def payjp_lib(sandbox: SandboxProcess) -> Any:
    payjp.api_base = sandbox.outputs["PayjpApiBaseUrl"]
    payjp.api_key = sandbox.outputs["PayjpSecretKey"]
    return payjp


def test_charge_created_with_official_library_appears_through_the_webhook(
    sandbox: SandboxProcess, payjp_lib: Any
) -> None:
    charge = payjp_lib.Charge.create(
        amount=5000,
        currency="jpy",
        card="tok_visa",
        capture=False,
        expiry_days=30,
        metadata={
            "store_id": "store_e2e",
            "reservation_id": "rsv_e2e_1",
            "visit_date": "2026-12-24",
            "accepted_at": "2026-11-20T10:00:00+09:00",
        },
    )
    payment = eventually(lambda: get_payment(sandbox, "payjp", charge.id))
    assert payment["status"] == "authorized"
    assert payment["currency"] == "JPY"
    assert payment["amount"] == 5000
    assert payment["store_id"] == "store_e2e"
    assert payment["capture_deadline"] is not None and payment["deadline_bound"] in (
        "business",
        "authorization",
    )
    assert [h["to_status"] for h in payment["history"]] == ["authorized"]


def test_emulator_speaks_payjp_errors(sandbox: SandboxProcess, payjp_lib: Any) -> None:
    with pytest.raises(payjp_lib.error.CardError) as declined:
        payjp_lib.Charge.create(amount=1000, currency="jpy", card="tok_card_declined")
    assert declined.value.code == "card_declined"
    with pytest.raises(payjp_lib.error.AuthenticationError):
        payjp_lib.Charge.create(amount=1000, currency="jpy", card="tok_visa", api_key="sk_test_wrong")
    with pytest.raises(payjp_lib.error.InvalidRequestError):
        payjp_lib.Charge.retrieve("ch_does_not_exist")


def test_capture_and_refund_through_the_emulator_reach_the_payment(
    sandbox: SandboxProcess, payjp_lib: Any
) -> None:
    charge = payjp_lib.Charge.create(amount=8000, currency="jpy", card="tok_visa", capture=False)
    eventually(lambda: get_payment(sandbox, "payjp", charge.id))
    charge.capture(amount=6000)
    captured = eventually(
        lambda: (p := get_payment(sandbox, "payjp", charge.id)) and p["status"] == "captured" and p
    )
    assert captured["captured_amount"] == 6000
    charge.refund(amount=1000)
    refunded = eventually(
        lambda: (p := get_payment(sandbox, "payjp", charge.id)) and p["status"] == "partially_refunded" and p
    )
    assert refunded["refunded_amount"] == 1000
    assert [h["to_status"] for h in refunded["history"]] == ["authorized", "captured", "partially_refunded"]


def test_fifty_concurrent_identical_deliveries_make_one_change(
    sandbox: SandboxProcess, payjp_lib: Any
) -> None:
    charge = payjp_lib.Charge.create(amount=3000, currency="jpy", card="tok_visa", capture=True)
    eventually(lambda: get_payment(sandbox, "payjp", charge.id))
    body = json.dumps(
        {"id": "evnt_concurrent_1", "object": "event", "type": "charge.refunded", "data": {"id": charge.id}}
    ).encode()
    # the refund happens at the provider, then one event is delivered 50 times at once
    HTTP.request(
        "POST",
        f"{sandbox.outputs['PayjpApiBaseUrl']}/v1/charges/{charge.id}/refund",
        body=b"amount=3000",
        headers={
            "Authorization": urllib3.make_headers(basic_auth=f"{sandbox.outputs['PayjpSecretKey']}:")[
                "authorization"
            ],
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    def deliver(_: int) -> tuple[int, dict[str, Any]]:
        response = HTTP.request(
            "POST",
            f"{sandbox.api}/webhooks/payjp",
            body=body,
            headers={"Content-Type": "application/json", **payjp_headers()},
        )
        return response.status, json.loads(response.data)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(deliver, range(50)))
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, body in results if not body["duplicate"]) == 1
    final = eventually(
        lambda: (p := get_payment(sandbox, "payjp", charge.id)) and p["status"] == "refunded" and p
    )
    time.sleep(1.0)  # let any straggling copies drain
    final = get_payment(sandbox, "payjp", charge.id)
    assert final is not None
    transitions = [h["to_status"] for h in final["history"]]
    assert transitions.count("refunded") == 1
    assert final["refunded_amount"] == 3000


def test_bad_requests_over_http(sandbox: SandboxProcess) -> None:
    def post(path: str, body: bytes, headers: dict[str, str]) -> int:
        return HTTP.request("POST", f"{sandbox.api}{path}", body=body, headers=headers).status

    body = b'{"id": "evt_x", "type": "payment_intent.succeeded"}'
    assert post("/webhooks/stripe", body, {"Stripe-Signature": "t=1,v1=00"}) == 401
    assert post("/webhooks/stripe", body + b"x", stripe_headers(body)) == 401
    assert post("/webhooks/payjp", b"{not json", payjp_headers()) == 400
    assert post("/webhooks/payjp", b"x" * (256 * 1024 + 1), payjp_headers()) == 413
    assert post("/webhooks/unknown", b"{}", {}) == 404


def test_the_webhook_http_api_takes_signed_webhooks_as_the_rest_api_does(sandbox: SandboxProcess) -> None:
    """Providers are registered at ``WebhookApiUrl`` (an HTTP API, payload format 1.0): a signed
    Stripe event is accepted there, applied, and its payment read through ``ApiUrl``; a repeat is
    a duplicate; refusals answer the REST door's status codes; no other route is served."""
    from tests.conftest import load_event

    doors = {"http": sandbox.outputs["WebhookApiUrl"].rstrip("/"), "rest": sandbox.api}
    assert doors["http"] != doors["rest"]
    event = load_event("webhooks/stripe/payment_intent.amount_capturable_updated.json")
    unique = uuid.uuid4().hex[:12]
    event["id"] = f"evt_http_{unique}"
    event["data"]["object"]["id"] = intent = f"pi_http_{unique}"
    body = json.dumps(event).encode()

    def post(door: str, path: str, payload: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = HTTP.request("POST", f"{doors[door]}{path}", body=payload, headers=headers)
        return response.status, json.loads(response.data or b"null")

    assert post("http", "/webhooks/stripe", body, stripe_headers(body)) == (
        200,
        {"received": True, "duplicate": False},
    )
    payment = eventually(lambda: get_payment(sandbox, "stripe", intent))
    assert payment["status"] == "authorized" and payment["amount"] == 12000
    assert post("http", "/webhooks/stripe", body, stripe_headers(body)) == (
        200,
        {"received": True, "duplicate": True},
    )
    refusals = [
        ("/webhooks/stripe", body, {"Stripe-Signature": "t=1,v1=00"}),
        ("/webhooks/payjp", b"{not json", payjp_headers()),
        ("/webhooks/unknown", b"{}", {}),
    ]
    for path, payload, headers in refusals:
        statuses = {door: post(door, path, payload, headers)[0] for door in doors}
        assert statuses["http"] == statuses["rest"] and statuses["http"] in (400, 401, 404), (path, statuses)
    assert HTTP.request("GET", f"{doors['http']}/admin/payments/stripe/{intent}").status == 404
