"""SBPS result notifications: Shift_JIS and UTF-8 bodies, the check code in the defined field order,
amounts within JPY's plausible range, one refund fact per SBPS refund operation."""

from __future__ import annotations

import hashlib
import random
from urllib.parse import urlencode

import pytest

from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT
from cardops.kernel.secrets import WebhookSecrets
from cardops.payments.domain.webhook_signatures import MalformedWebhook, SignatureError
from cardops.payments.providers.sbps import PLUGIN, notifications
from cardops.payments.providers.sbps.protocol import HASH_FIELD

KEY = "hash_key_for_tests"
FIELDS = [
    ("order_id", "ord_1"),
    ("amount", "12000"),
    ("free1", "渋谷店"),
    ("free2", "rsv_1"),
    ("free3", "2026-12-20"),
    ("res_status", "authorized"),
    ("res_result", "OK"),
    ("res_tracking_id", "00000000012345"),
    ("res_sps_transaction_id", "SPS0001"),
    ("res_err_code", ""),
    ("res_date", "20261201103000"),
]


def values(**overrides: str) -> list[tuple[str, str]]:
    return [(name, overrides.get(name, value)) for name, value in FIELDS]


def test_check_code_is_sha1_of_the_values_in_the_defined_order_then_the_key() -> None:
    ascii_only = values(free1="store_1")
    # SBPS's order: order_id, amount, free1-3, res_result, res_tracking_id, res_err_code, res_date,
    # then this system's res_status and res_sps_transaction_id
    joined = "ord_112000store_1rsv_12026-12-20OK0000000001234520261201103000authorizedSPS0001" + KEY
    assert (
        notifications.check_code(ascii_only, KEY)
        == hashlib.sha1(joined.encode(), usedforsecurity=False).hexdigest()
    )


def test_fields_arriving_in_any_order_verify() -> None:
    body = notifications.sign(values(), KEY)
    pairs = [pair.split("=", 1) for pair in body.decode().split("&")]
    random.Random(7).shuffle(pairs)
    shuffled = "&".join("=".join(pair) for pair in pairs).encode()
    notifications.verify(notifications.decode(shuffled), [KEY])
    PLUGIN.verify(shuffled, lambda _: None, PLUGIN.webhook_secrets(_secrets()), now=0.0)
    assert PLUGIN.event_id(shuffled) == PLUGIN.event_id(body)


@pytest.mark.parametrize(("encoding", "expected"), [("cp932", "cp932"), ("utf-8", "utf-8")])
def test_shift_jis_and_utf8_bodies_decode_and_verify(encoding: str, expected: str) -> None:
    body = notifications.sign(values(), KEY, encoding=encoding)
    decoded = notifications.decode(body)
    assert decoded.encoding == expected
    assert decoded.values["free1"] == "渋谷店"
    notifications.verify(decoded, [KEY])
    assert PLUGIN.to_canonical(body).metadata.store_id == "渋谷店"


def test_the_check_code_is_over_the_bytes_sent() -> None:
    sjis, utf8 = (notifications.sign(values(), KEY, encoding=e) for e in ("cp932", "utf-8"))
    code = {body: dict(p.split("=") for p in body.decode().split("&"))[HASH_FIELD] for body in (sjis, utf8)}
    assert code[sjis] != code[utf8]
    # a UTF-8 body carrying the Shift_JIS check code is not SBPS's
    forged = utf8.replace(code[utf8].encode(), code[sjis].encode())
    with pytest.raises(SignatureError):
        notifications.verify(notifications.decode(forged), [KEY])


def test_tampered_wrong_key_missing_or_doubled_hash_are_refused() -> None:
    body = notifications.sign(values(), KEY)
    with pytest.raises(SignatureError):
        notifications.verify(notifications.decode(body.replace(b"12000", b"92000")), [KEY])
    with pytest.raises(SignatureError):
        notifications.verify(notifications.decode(body), ["other"])
    notifications.verify(notifications.decode(body), ["old", KEY])  # rotation: either key
    unsigned = urlencode(values(free1="x")).encode()
    with pytest.raises(SignatureError):
        notifications.verify(notifications.decode(unsigned), [KEY])
    with pytest.raises(SignatureError):
        notifications.verify(notifications.decode(body + b"&sps_hashcode=00"), [KEY])


def test_undecodable_bodies_are_malformed() -> None:
    with pytest.raises(MalformedWebhook):
        notifications.decode(b"a=%82")  # a lead byte alone: neither UTF-8 nor Shift_JIS
    with pytest.raises(MalformedWebhook):
        notifications.decode(b"%%%&&&=")


@pytest.mark.parametrize(
    "amount", [str(MAX_PLAUSIBLE_AMOUNT + 1), "10000000000000000000000", "-5", "1e3", "１２"]
)
def test_amounts_outside_jpy_plausible_range_are_refused_by_name(amount: str) -> None:
    with pytest.raises(MalformedWebhook, match="amount"):
        PLUGIN.to_canonical(notifications.sign(values(amount=amount), KEY))


def test_the_largest_plausible_amount_is_read() -> None:
    event = PLUGIN.to_canonical(notifications.sign(values(amount=str(MAX_PLAUSIBLE_AMOUNT)), KEY))
    assert event.facts.authorized_amount == MAX_PLAUSIBLE_AMOUNT


def test_two_refunds_in_one_second_are_two_events_and_two_refund_facts() -> None:
    first = values(res_status="refunded", amount="1000", res_sps_transaction_id="SPS1")
    second = values(res_status="refunded", amount="2000", res_sps_transaction_id="SPS2")
    a, b = (PLUGIN.to_canonical(notifications.sign(v, KEY)) for v in (first, second))
    assert a.event_id != b.event_id
    assert a.facts.merge(b.facts).refunded_amount == 3000
    assert a.facts.merge(a.facts).refunded_amount == 1000  # a resend merges into itself


def test_the_tracking_id_is_kept_as_the_provider_reference() -> None:
    event = PLUGIN.to_canonical(notifications.sign(values(), KEY))
    assert event.provider_payment_id == "ord_1"
    assert event.metadata.provider_reference == "00000000012345"


def test_the_customer_id_is_kept_as_the_customer_reference() -> None:
    """SBPS keeps a card for re-payment under the purchase's ``cust_code``: cardops must know it."""
    signed = notifications.sign([("cust_code", "cust_0001"), *values()], KEY)
    assert PLUGIN.to_canonical(signed).metadata.customer_reference == "cust_0001"
    assert PLUGIN.to_canonical(notifications.sign(values(), KEY)).metadata.customer_reference is None


def _secrets() -> WebhookSecrets:
    return WebhookSecrets.model_validate({"sbps_hash_key": KEY})
