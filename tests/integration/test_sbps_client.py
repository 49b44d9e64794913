"""The SBPS API client against the sandbox's SBPS emulator: XML over HTTP Basic, the check code,
SBPS's NG answers as our error classes, retries that cannot capture or refund twice."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from pydantic import SecretStr

from cardops import resources
from cardops.payments.providers.base import PermanentProviderError, TransientProviderError
from cardops.payments.providers.sbps import protocol
from cardops.payments.providers.sbps.client import KnownPayment, SbpsClient, SbpsSettings
from cardops.sandbox.sbps_emulator import Authorization, SbpsEmulator

SECRETS = resources.SANDBOX_SECRETS


@pytest.fixture
def emulator() -> Iterator[SbpsEmulator]:
    emu = SbpsEmulator(
        merchant_id=SECRETS["sbps_merchant_id"],
        service_id=SECRETS["sbps_service_id"],
        api_hash_key=SECRETS["sbps_api_hash_key"],
        notify_hash_key=SECRETS["sbps_hash_key"],
    )
    emu.start()
    yield emu
    emu.stop()


def api_settings(emulator: SbpsEmulator, **overrides: Any) -> SbpsSettings:
    """The client's settings for the emulator: the sandbox's keys, no backoff."""
    values: dict[str, Any] = {
        "api_url": emulator.api_url,
        "merchant_id": SECRETS["sbps_merchant_id"],
        "service_id": SECRETS["sbps_service_id"],
        "hash_key": SecretStr(SECRETS["sbps_api_hash_key"]),
        "backoff_base": 0.0,
    }
    return SbpsSettings(**(values | overrides))


def client_for(emulator: SbpsEmulator, payment: Authorization, **overrides: Any) -> SbpsClient:
    settings = api_settings(emulator, **overrides)

    def known(order_id: str) -> KnownPayment | None:
        found = emulator.payments.get(order_id)
        if found is None:
            return None
        return KnownPayment(found.tracking_id, found.amount, found.captured_amount)

    return SbpsClient(settings, known=known, sleep=lambda _: None)


def test_request_xml_is_signed_over_its_values_in_element_order() -> None:
    body = protocol.build_request(
        protocol.CAPTURE,
        [("merchant_id", "30132"), ("service_id", "103"), ("pay_option_manage", [("amount", "500")])],
        "key",
    )
    assert body.startswith(b'<?xml version="1.0" encoding="Shift_JIS"?><sps-api-request id="ST02-00201-101">')
    function_id, values, code = protocol.parse_request(body)
    assert function_id == protocol.CAPTURE
    assert values == [("merchant_id", "30132"), ("service_id", "103"), ("pay_option_manage/amount", "500")]
    assert code == hashlib.sha1(b"30132103500key", usedforsecurity=False).hexdigest()


def test_answers_declaring_entities_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]>'
        b"<sps-api-response><res_result>&x;</res_result></sps-api-response>"
    )
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_response(bomb)


def test_capture_partial_amount_then_lookup(emulator: SbpsEmulator) -> None:
    payment = emulator.authorize("ord_capture", 12000)
    client = client_for(emulator, payment)
    captured = client.capture("ord_capture", amount=10000, idempotency_key="k1")
    assert captured.facts.captured_amount == 10000 and captured.facts.captured_at is not None
    assert payment.status == "2" and payment.captured_amount == 10000
    assert client.retrieve("ord_capture").facts.captured_amount == 10000
    assert emulator.requests == [protocol.CAPTURE, protocol.LOOKUP]


def test_a_retried_capture_whose_first_answer_was_lost_captures_once(emulator: SbpsEmulator) -> None:
    payment = emulator.authorize("ord_lost", 8000)
    client = client_for(emulator, payment)
    client.capture("ord_lost", amount=None, idempotency_key="k")
    # the answer was lost: the same call again is answered "already captured" (NG 10141…)
    again = client.capture("ord_lost", amount=None, idempotency_key="k")
    assert again.facts.captured_amount == 8000
    assert [op["status"] for op in payment.operations] == ["authorized", "captured"]


def test_cancel_releases_the_authorization_and_a_second_cancel_is_the_same_answer(
    emulator: SbpsEmulator,
) -> None:
    payment = emulator.authorize("ord_cancel", 5000)
    client = client_for(emulator, payment)
    assert client.cancel_authorization("ord_cancel", idempotency_key="x").facts.canceled
    assert client.cancel_authorization("ord_cancel", idempotency_key="x").facts.canceled
    assert payment.status == "3"
    with pytest.raises(PermanentProviderError) as refused:
        client.capture("ord_cancel", amount=None, idempotency_key="y")
    assert refused.value.code == "10140999"  # 与信取消済みのため、売上処理を中止しました


def test_partial_then_whole_refund(emulator: SbpsEmulator) -> None:
    payment = emulator.authorize("ord_refund", 9000)
    client_for(emulator, payment).capture("ord_refund", amount=None, idempotency_key="c")
    client = client_for(emulator, payment)
    client.refund("ord_refund", amount=2000, idempotency_key="r1")
    assert payment.refunded_amount == 2000 and payment.status == "2"
    with pytest.raises(PermanentProviderError) as refused:
        client.refund("ord_refund", amount=8000, idempotency_key="r2")
    assert refused.value.code == "101K1008"  # more than the rest
    client.refund("ord_refund", amount=7000, idempotency_key="r3")
    assert payment.refunded_amount == 9000 and payment.status == "4"
    assert [op["status"] for op in payment.operations][-2:] == ["refunded", "refunded"]


def test_system_errors_and_503_are_retried(emulator: SbpsEmulator) -> None:
    payment = emulator.authorize("ord_retry", 3000)
    emulator.faults["capture"] = ["system_error", "server_error"]
    client = client_for(emulator, payment)
    assert client.capture("ord_retry", amount=None, idempotency_key="k").facts.captured_amount == 3000
    assert client.calls == 3


def test_a_partial_refund_is_not_resent_after_a_503_but_after_an_ng_it_is(emulator: SbpsEmulator) -> None:
    payment = emulator.authorize("ord_once", 6000)
    client = client_for(emulator, payment)
    client.capture("ord_once", amount=None, idempotency_key="c")
    emulator.faults["refund"] = ["server_error"]
    with pytest.raises(TransientProviderError):
        client.refund("ord_once", amount=1000, idempotency_key="r")
    assert emulator.requests.count(protocol.PARTIAL_REFUND) == 1 and payment.refunded_amount == 0
    emulator.faults["refund"] = ["system_error"]
    client.refund("ord_once", amount=1000, idempotency_key="r")
    assert payment.refunded_amount == 1000


def test_a_read_timeout_is_transient(emulator: SbpsEmulator) -> None:
    payment = emulator.authorize("ord_slow", 1000)
    emulator.faults["lookup"] = ["timeout"]
    client = client_for(emulator, payment, read_timeout=0.3, max_attempts=1)
    with pytest.raises(TransientProviderError):
        client.retrieve("ord_slow")


def test_refusals_and_bad_credentials_are_permanent(emulator: SbpsEmulator) -> None:
    payment = emulator.authorize("ord_refuse", 1000)
    emulator.faults["capture"] = ["decline"]
    with pytest.raises(PermanentProviderError) as refused:
        client_for(emulator, payment).capture("ord_refuse", amount=None, idempotency_key="k")
    assert refused.value.code == "10142999"
    with pytest.raises(PermanentProviderError) as unauthorized:
        client_for(emulator, payment, basic_password=SecretStr("wrong")).retrieve("ord_refuse")
    assert unauthorized.value.status == 401
    bad_hash = client_for(
        emulator, payment, hash_key=SecretStr("wrong"), basic_password=SecretStr(SECRETS["sbps_api_hash_key"])
    )
    with pytest.raises(PermanentProviderError) as mismatch:
        bad_hash.retrieve("ord_refuse")
    assert mismatch.value.code == "99909025"  # ハッシュ値エラー


def test_an_unknown_payment_is_refused_by_name(emulator: SbpsEmulator) -> None:
    payment = emulator.authorize("ord_known", 1000)
    with pytest.raises(PermanentProviderError, match="no SBPS tracking id"):
        client_for(emulator, payment).capture("ord_unknown", amount=None, idempotency_key="k")


def test_the_emulator_tells_its_view_and_takes_fault_switches(emulator: SbpsEmulator) -> None:
    http = urllib3.PoolManager()
    made = http.request(
        "POST", f"{emulator.url}/_sandbox/authorizations", json={"order_id": "ord_http", "amount": 4400}
    ).json()
    assert made["status"] == "authorized" and len(made["tracking_id"]) == 14
    assert (
        http.request(
            "POST", f"{emulator.url}/_sandbox/faults", json={"operation": "cancel", "mode": "decline"}
        ).status
        == 200
    )
    assert (
        http.request(
            "POST", f"{emulator.url}/_sandbox/faults", json={"operation": "cancel", "mode": "x"}
        ).status
        == 400
    )
    assert http.request("GET", f"{emulator.url}/_sandbox/payments/ord_http").json()["amount"] == 4400
