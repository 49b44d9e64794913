"""PAY.JP's webhook events (SPEC §1): which ones concern a charge, and which charge they name.

Pure: no I/O. A PAY.JP event only names the charge (its token authenticates the sender, not the
body), so the plugin turns it into a canonical event from a re-fetch of that charge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from cardops.payments.domain.payments import EventKind
from cardops.payments.domain.webhook_signatures import MalformedWebhook

#: PAY.JP event types that concern a charge (SPEC §1), and what each says happened
CHARGE_EVENT_KINDS: Final[Mapping[str, EventKind]] = {
    "charge.succeeded": EventKind.AUTHORIZED,
    "charge.captured": EventKind.CAPTURED,
    "charge.updated": EventKind.UPDATED,
    "charge.refunded": EventKind.REFUNDED,
    "charge.failed": EventKind.FAILED,
    "charge.dispute.created": EventKind.DISPUTE_OPENED,
    "charge.dispute.updated": EventKind.UPDATED,
}
CHARGE_EVENT_TYPES: Final = frozenset(CHARGE_EVENT_KINDS)

#: PAY.JP reports refunds as a running total; it is one fact that only grows
PAYJP_REFUND_TOTAL: Final = "payjp:amount_refunded"


class NotAChargeEvent(Exception):
    """A well-formed PAY.JP event of a type that concerns no charge."""


def json_object(raw_body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw_body.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise MalformedWebhook("body is not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedWebhook("body is not a JSON object")
    return value


def charge_event(raw_body: bytes) -> tuple[str, EventKind, str]:
    """(event id, kind, charge id) of a charge event; ``NotAChargeEvent`` for the other types."""
    payload = json_object(raw_body)
    event_type = str(payload.get("type"))
    kind = CHARGE_EVENT_KINDS.get(event_type)
    if kind is None:
        raise NotAChargeEvent(event_type)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise MalformedWebhook("PAY.JP event has no data object")
    charge_id = data.get("charge") if data.get("object") == "dispute" else data.get("id")
    if not isinstance(charge_id, str) or not charge_id.startswith("ch_") or len(charge_id) > 255:
        raise MalformedWebhook("PAY.JP event names no charge")
    return str(payload["id"]), kind, charge_id
