"""The PAY.JP emulator's sandbox controls, which the end-to-end tests read across processes
(``tests/e2e/test_payjp_e2e.py``): the requests with their idempotency keys, the events, lost webhooks,
and a fault that is not stored under its key."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cardops import resources
from cardops.payments.providers.base import TransientProviderError
from cardops.payments.providers.payjp.client import PayjpClient
from cardops.sandbox.payjp_emulator import PayjpEmulator
from tests.helpers import EmulatorControls
from tests.integration.conftest import Receiver

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])
SECRET = resources.SANDBOX_SECRETS["payjp_secret_key"]


@pytest.fixture
def emulator(receiver: Receiver) -> Iterator[PayjpEmulator]:
    emu = PayjpEmulator(secret_key=SECRET, webhook_url=f"{receiver.server.url}/webhooks/payjp")
    emu.start()
    yield emu
    emu.stop()


def client(emu: PayjpEmulator, attempts: int) -> PayjpClient:
    return PayjpClient(api_base=emu.url, secret_key=lambda: SECRET, max_attempts=attempts, backoff_base=0.001)


def test_a_faulted_capture_is_not_stored_under_its_key_and_the_retry_captures_once(
    emulator: PayjpEmulator,
) -> None:
    charge = emulator.create_charge(
        {"amount": "5000", "currency": "jpy", "card": "tok_visa", "capture": "false"}
    )
    controls = EmulatorControls(emulator.url)
    controls.fault("capture", 2)
    with pytest.raises(TransientProviderError):
        client(emulator, attempts=1).capture(charge["id"], amount=4000, idempotency_key="cap-1")
    captured = client(emulator, attempts=2).capture(charge["id"], amount=4000, idempotency_key="cap-1")

    assert captured.facts.captured_amount == 4000
    assert controls.keys_sent(f"/v1/charges/{charge['id']}/capture") == ["cap-1"] * 3
    assert [e["type"] for e in controls.events()] == ["charge.succeeded", "charge.captured"]


def test_webhooks_switched_off_are_recorded_but_lost(emulator: PayjpEmulator, receiver: Receiver) -> None:
    controls = EmulatorControls(emulator.url)
    assert controls.call("POST", "/_sandbox/webhooks", {"deliver": False}) == {"deliver": False}
    lost = emulator.create_charge({"amount": "1000", "currency": "jpy", "card": "tok_visa"})
    controls.call("POST", "/_sandbox/webhooks", {"deliver": True})
    sent = emulator.create_charge({"amount": "2000", "currency": "jpy", "card": "tok_visa"})
    emulator.wait_for_deliveries()

    delivered = [json.loads(body)["data"]["id"] for body, _ in receiver.deliveries]
    assert delivered == [sent["id"]]
    recorded = [e["data"]["id"] for e in controls.events()]
    assert recorded == [lost["id"], sent["id"]]


def test_a_control_body_that_is_not_a_json_object_is_a_clear_400(emulator: PayjpEmulator) -> None:
    import urllib3

    response = urllib3.request("POST", f"{emulator.url}/_sandbox/webhooks", body=b"[1]")
    assert response.status == 400 and response.json()["error"]["code"] == "invalid_param"
