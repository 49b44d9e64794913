"""SB Payment Service result notifications: decoding, the check code, canonical events.

SBPS posts ``application/x-www-form-urlencoded`` result notifications. Its link-type basic
specifications say the form is Shift_JIS and that its fields arrive in no particular order; some
merchants' notification URLs are set up for UTF-8. Both are read: a body whose percent-decoded
values are valid UTF-8 is UTF-8, otherwise it is read as Windows-31J (the Shift_JIS SBPS emits).
The check code (``sps_hashcode``) is SHA-1 over the values in the *defined* field order below,
each trimmed, then the merchant's hash key — computed over the bytes exactly as sent, so it holds
in either encoding.

| field                    | meaning                                                        |
| ------------------------ | -------------------------------------------------------------- |
| ``order_id``             | the merchant's purchase id: cardops' provider payment id       |
| ``res_tracking_id``      | SBPS's tracking id: how SBPS's API addresses the payment       |
| ``res_sps_transaction_id`` | SBPS's id of this operation (one per capture, cancel, refund) |
| ``res_status``           | ``authorized`` ``captured`` ``canceled`` ``refunded`` ``failed`` |
| ``res_result``           | ``OK`` or ``NG``                                               |
| ``amount``               | the amount of this operation in yen                            |
| ``res_date``             | ``YYYYMMDDhhmmss`` in Asia/Tokyo                               |
| ``res_err_code``         | SBPS's error code on ``NG``                                    |
| ``free1``/``free2``/``free3`` | ``store_id`` / ``reservation_id`` / ``visit_date``        |
| ``cust_code``            | the merchant's customer id: SBPS's key for a stored card       |

The event id is ``{res_tracking_id}:{res_status}:{res_date}`` (``:{res_sps_transaction_id}``
appended when present): SBPS resends a notification with the same values until it is
acknowledged, and two refunds in the same second still differ by their transaction ids.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from cardops.payments.domain.webhook_signatures import MalformedWebhook, SignatureError
from cardops.payments.providers.sbps.protocol import (
    ENCODING,
    HASH_FIELD,
    check_code_of_bytes,
    parse_timestamp,
)

if TYPE_CHECKING:
    from cardops.payments.domain.payments import CanonicalEvent

#: the notification's fields in their defined order (the order of the check code): SBPS's
#: purchase result notification (link type A02-1/A03-1, as listed by its specification and the
#: open-source clients), then the two this system's notifications add for every later operation
FIELDS = (
    "pay_method",
    "merchant_id",
    "service_id",
    "cust_code",
    "sps_cust_no",
    "sps_payment_no",
    "order_id",
    "item_id",
    "pay_item_id",
    "item_name",
    "tax",
    "amount",
    "pay_type",
    "auto_charge_type",
    "service_type",
    "div_settele",
    "last_charge_month",
    "camp_type",
    "tracking_id",
    "terminal_type",
    "free1",
    "free2",
    "free3",
    "request_date",
    "res_pay_method",
    "res_result",
    "res_tracking_id",
    "res_sps_cust_no",
    "res_sps_payment_no",
    "res_payinfo_key",
    "res_payment_date",
    "res_err_code",
    "res_date",
    "limit_second",
    "res_status",
    "res_sps_transaction_id",
)
_RANK = {name: index for index, name in enumerate(FIELDS)}
#: ``res_status`` values, each the ``EventKind`` of the same name (the webhook function verifies
#: and names notifications without importing the payment models: they are imported by ``to_canonical``)
_KINDS = frozenset({"authorized", "captured", "canceled", "refunded", "failed"})


@dataclass(frozen=True)
class Notification:
    """A decoded form: the values as text, the values as sent (for the check code), the encoding."""

    values: dict[str, str]
    raw: tuple[tuple[str, bytes], ...]
    encoding: str


def decode(raw_body: bytes) -> Notification:
    """Percent-decode the form byte for byte, then read the values as UTF-8 or Shift_JIS."""
    try:
        # latin-1 maps every byte to one character and back: the values keep their exact bytes
        pairs = parse_qsl(
            raw_body.decode("latin-1"),
            keep_blank_values=True,
            strict_parsing=bool(raw_body),
            encoding="latin-1",
            max_num_fields=200,
        )
    except ValueError as exc:
        raise MalformedWebhook(f"SBPS notification is not a form body: {exc}") from exc
    raw = tuple((name, value.encode("latin-1")) for name, value in pairs)
    for encoding in ("utf-8", ENCODING):
        try:
            values = {name: value.decode(encoding) for name, value in raw}
        except UnicodeDecodeError:
            continue
        if any(not name.isascii() for name in values):
            raise MalformedWebhook("SBPS notification has a non-ASCII field name")
        return Notification(values=values, raw=raw, encoding=encoding)
    raise MalformedWebhook("SBPS notification is neither UTF-8 nor Shift_JIS")


def _ordered(pairs: Sequence[tuple[str, bytes]]) -> list[bytes]:
    """Values in the defined order; fields outside the definition after them, by name."""
    signed = [(name, value) for name, value in pairs if name != HASH_FIELD]
    signed.sort(key=lambda pair: (_RANK.get(pair[0], len(FIELDS)), pair[0]))
    return [value for _, value in signed]


def check_code(pairs: Sequence[tuple[str, str]], hash_key: str, *, encoding: str = ENCODING) -> str:
    """The check code SBPS puts on a notification of these values (for signers: emulator, CLI, tests)."""
    return check_code_of_bytes(_ordered([(name, value.encode(encoding)) for name, value in pairs]), hash_key)


def sign(pairs: Sequence[tuple[str, str]], hash_key: str, *, encoding: str = ENCODING) -> bytes:
    """A signed form body as SBPS posts it, in ``encoding``."""
    signed = [*pairs, (HASH_FIELD, check_code(pairs, hash_key, encoding=encoding))]
    return urlencode(signed, encoding=encoding).encode("ascii")


def verify(notification: Notification, hash_keys: Sequence[str]) -> None:
    """Constant-time against every configured key (the current and, during a rotation, the previous)."""
    presented = [value for name, value in notification.raw if name == HASH_FIELD]
    if len(presented) != 1:
        raise SignatureError("SBPS notification must carry exactly one sps_hashcode")
    code = presented[0].strip().lower()
    values = _ordered(notification.raw)
    matched = False
    for key in hash_keys:
        matched |= hmac.compare_digest(check_code_of_bytes(values, key).encode(), code)
    if not matched:
        raise SignatureError("SBPS hash does not match")


def _field(values: dict[str, str], name: str) -> str:
    value = values.get(name, "").strip()
    if not value:
        raise MalformedWebhook(f"SBPS notification lacks {name}")
    if len(value) > 128:
        raise MalformedWebhook(f"SBPS field {name} is too long")
    return value


def event_id(values: dict[str, str]) -> str:
    base = ":".join(_field(values, name) for name in ("res_tracking_id", "res_status", "res_date"))
    transaction = values.get("res_sps_transaction_id", "").strip()
    return f"{base}:{transaction[:64]}" if transaction else base


def amount_of(text: str) -> int:
    """A yen amount: digits only, within what a card payment can plausibly be."""
    from cardops.payments.providers.base import provider_amount

    if not text.isascii() or not text.isdigit():
        raise MalformedWebhook(f"SBPS amount {text[:20]!r} is not a whole number of yen")
    return provider_amount(int(text), "SBPS")


def refund_key(values: dict[str, str]) -> str:
    """One refund fact per SBPS refund operation (its transaction id), so a resend merges into it."""
    transaction = values.get("res_sps_transaction_id", "").strip()
    if transaction:
        return f"sbps:{transaction[:64]}"
    return f"sbps:{_field(values, 'res_tracking_id')}:{_field(values, 'res_date')}"


def to_canonical(values: dict[str, str]) -> CanonicalEvent:
    from cardops.payments.domain.payments import (
        CanonicalEvent,
        EventKind,
        PaymentFacts,
        PaymentMetadata,
        RefundFact,
    )

    status = _field(values, "res_status")
    if status not in _KINDS:
        raise MalformedWebhook(f"unknown SBPS res_status {status!r}")
    try:
        occurred = parse_timestamp(_field(values, "res_date"))
    except ValueError as exc:
        raise MalformedWebhook(f"SBPS notification has an unreadable value: {exc}") from exc
    amount = amount_of(_field(values, "amount"))
    ok = values.get("res_result", "").upper() == "OK"
    kind = EventKind(status) if ok else EventKind.FAILED
    facts: dict[str, Any] = {"currency": "JPY"}
    if not ok or status == "failed":
        facts |= {"failed": True, "failure_code": values.get("res_err_code") or "NG"}
    elif status == "authorized":
        facts |= {"authorized_amount": amount, "authorized_at": occurred}
    elif status == "captured":
        facts |= {"captured_amount": amount, "captured_at": occurred}
    elif status == "canceled":
        facts |= {"canceled": True}
    elif status == "refunded":
        facts |= {"refunds": {refund_key(values): RefundFact(amount=amount, state="succeeded")}}
    visit: date | None
    try:
        visit = date.fromisoformat(values["free3"]) if values.get("free3") else None
    except ValueError:
        visit = None
    return CanonicalEvent(
        provider="sbps",
        provider_payment_id=_field(values, "order_id"),
        event_id=event_id(values),
        kind=kind,
        occurred_at=occurred,
        facts=PaymentFacts.model_validate(facts),
        metadata=PaymentMetadata(
            store_id=values.get("free1") or None,
            reservation_id=values.get("free2") or None,
            visit_date=visit,
            provider_reference=_field(values, "res_tracking_id"),
            customer_reference=values.get("cust_code", "").strip()[:64] or None,
        ),
    )


def parse(raw_body: bytes) -> CanonicalEvent:
    return to_canonical(decode(raw_body).values)
