"""The PAY.JP emulator's special tokens answer in PAY.JP's error shapes (issue 17 item 6)."""

from __future__ import annotations

from collections.abc import Iterator

import payjp
import pytest

from cardops import resources
from cardops.payments.providers.base import PermanentProviderError
from cardops.payments.providers.payjp.client import PayjpClient
from cardops.sandbox.payjp_emulator import PayjpEmulator

SECRET = resources.SANDBOX_SECRETS["payjp_secret_key"]


@pytest.fixture
def emulator() -> Iterator[PayjpEmulator]:
    emu = PayjpEmulator(secret_key=SECRET)
    emu.start()
    payjp.api_base, payjp.api_key = emu.url, SECRET
    yield emu
    emu.stop()


def test_processing_error_is_a_network_failure_not_a_decline(emulator: PayjpEmulator) -> None:
    with pytest.raises(payjp.error.CardError) as raised:
        payjp.Charge.create(amount=1000, currency="jpy", card="tok_processing_error")
    error = raised.value.json_body["error"]
    assert raised.value.http_status == 402
    assert error["code"] == "processing_error" and error["type"] == "card_error"
    assert error["message"] != "Card declined." and "payment network" in error["message"]
    (failed,) = emulator.charges.values()
    assert failed["failure_code"] == "processing_error" and failed["failure_message"] == error["message"]


def test_card_declined_keeps_its_message(emulator: PayjpEmulator) -> None:
    with pytest.raises(payjp.error.CardError) as raised:
        payjp.Charge.create(amount=1000, currency="jpy", card="tok_card_declined")
    assert raised.value.json_body["error"]["message"] == "Card declined."


def test_cardops_client_shows_the_processing_error(emulator: PayjpEmulator) -> None:
    client = PayjpClient(api_base=emulator.url, secret_key=lambda: SECRET, max_attempts=1)
    with pytest.raises(PermanentProviderError) as raised:
        client.create_charge(
            amount=1000, currency="JPY", card="tok_processing_error", idempotency_key="k-processing"
        )
    assert raised.value.code == "processing_error" and raised.value.status == 402
    assert "payment network" in str(raised.value)
