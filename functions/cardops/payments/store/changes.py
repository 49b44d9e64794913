"""The table's stream records of payment items → ``Change`` values (the change feed's decoding).

Only this module and the payment repository know that a payment item keeps the payment in its
``doc`` attribute; the feed's filter (``resources.CHANGE_FEED``) lets only payment items through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cardops.payments.domain.changes import Change
from cardops.payments.domain.payments import Payment

#: the sort key of a payment item (its history entries and other items share the partition)
PAYMENT_SORT_KEY = "#PAYMENT"


class NotAPaymentChange(ValueError):
    """A stream record that is not the write of a payment item: the filter should have dropped it."""


def _payment(image: Mapping[str, Any] | None) -> Payment | None:
    if not image:
        return None
    doc = image.get("doc", {}).get("S")
    if not isinstance(doc, str):
        raise NotAPaymentChange("the image has no payment document")
    return Payment.model_validate_json(doc)


def change_of(record: Mapping[str, Any]) -> Change:
    """A DynamoDB Streams record (NEW_AND_OLD_IMAGES, in the Lambda event's shape) → its change."""
    stream = record.get("dynamodb") or {}
    if stream.get("Keys", {}).get("sk", {}).get("S") != PAYMENT_SORT_KEY:
        raise NotAPaymentChange(f"record {record.get('eventID')} is not a payment item")
    new = _payment(stream.get("NewImage"))
    if new is None:
        raise NotAPaymentChange(f"record {record.get('eventID')} removes a payment")
    return Change(old=_payment(stream.get("OldImage")), new=new)
