"""SB Payment Service (extended plan) result notifications → canonical events.

SBPS posts ``application/x-www-form-urlencoded`` result notifications signed with
``sps_hashcode`` (see ``domain.webhook_signatures.sbps_hash``). The fields we read:

| field               | meaning                                                        |
| ------------------- | -------------------------------------------------------------- |
| ``order_id``        | the payment id (our provider payment id)                       |
| ``res_tracking_id`` | SBPS's transaction tracking id                                 |
| ``res_status``      | ``authorized`` ``captured`` ``canceled`` ``refunded`` ``failed`` |
| ``res_result``      | ``OK`` or ``NG``                                               |
| ``amount``          | the amount of this operation in yen                            |
| ``res_date``        | ``YYYYMMDDhhmmss`` in Asia/Tokyo                               |
| ``res_err_code``    | SBPS's error code on ``NG``                                    |
| ``free1``/``free2``/``free3`` | ``store_id`` / ``reservation_id`` / ``visit_date``     |

The event id is ``{res_tracking_id}:{res_status}:{res_date}``: SBPS resends the same notification
with the same values until it is acknowledged, so that triple names one notification.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cardops.kernel.calendar import TOKYO
from cardops.payments.domain.payments import (
    CanonicalEvent,
    EventKind,
    PaymentFacts,
    PaymentMetadata,
    RefundFact,
)
from cardops.payments.domain.webhook_signatures import MalformedWebhook

_KINDS = {
    "authorized": EventKind.AUTHORIZED,
    "captured": EventKind.CAPTURED,
    "canceled": EventKind.CANCELED,
    "refunded": EventKind.REFUNDED,
    "failed": EventKind.FAILED,
}


def _field(values: dict[str, str], name: str) -> str:
    value = values.get(name, "").strip()
    if not value:
        raise MalformedWebhook(f"SBPS notification lacks {name}")
    if len(value) > 128:
        raise MalformedWebhook(f"SBPS field {name} is too long")
    return value


def event_id(values: dict[str, str]) -> str:
    return ":".join(_field(values, name) for name in ("res_tracking_id", "res_status", "res_date"))


def to_canonical(pairs: list[tuple[str, str]]) -> CanonicalEvent:
    values = dict(pairs)
    status = _field(values, "res_status")
    if status not in _KINDS:
        raise MalformedWebhook(f"unknown SBPS res_status {status!r}")
    try:
        occurred = datetime.strptime(_field(values, "res_date"), "%Y%m%d%H%M%S").replace(tzinfo=TOKYO)
        amount = int(_field(values, "amount"))
    except ValueError as exc:
        raise MalformedWebhook(f"SBPS notification has an unreadable value: {exc}") from exc
    if amount < 0:
        raise MalformedWebhook("SBPS amount is negative")
    ok = values.get("res_result", "").upper() == "OK"
    kind = _KINDS[status] if ok else EventKind.FAILED
    tracking = _field(values, "res_tracking_id")
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
        facts |= {
            "refunds": {f"sbps:{tracking}:{values['res_date']}": RefundFact(amount=amount, state="succeeded")}
        }
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
            store_id=values.get("free1") or None, reservation_id=values.get("free2") or None, visit_date=visit
        ),
    )
