"""Issue 11 item 5: ledger posting is O(1) in the ledger's size (a count of AWS calls, not a time).

Every later event of a captured payment (refund, dispute, update) runs the ledger listener again,
which re-derives the capture's entries. That must cost one keyed read, not a transaction that fails
as a duplicate followed by a read of the store's whole ledger history.
"""

from __future__ import annotations

from typing import Any

import pytest

from cardops.ledger.wiring import ledger_listener
from tests.helpers import counting_aws_calls
from tests.integration.ledger.conftest import CapturePayment, as_change

SIZES = pytest.mark.parametrize("earlier_captures", [1, 15])


def capture_after(captured: CapturePayment, earlier_captures: int, *, posted: bool) -> Any:
    """``pay_1`` captured in a store ledger that already holds ``earlier_captures`` captures."""
    for n in range(earlier_captures):
        captured(payment_id=f"pay_old_{n}")
    return captured(payment_id="pay_1", post_ledger=posted)


@SIZES
def test_a_repeat_posting_is_one_keyed_read_whatever_the_ledger_size(
    captured: CapturePayment, earlier_captures: int
) -> None:
    applied = capture_after(captured, earlier_captures, posted=True)

    with counting_aws_calls() as calls:
        ledger_listener(as_change(applied))  # what a later refund/update change of the payment does

    assert dict(calls) == {"dynamodb:BatchGetItem": 1}
    assert calls.items_read == 2  # the payment's own sale and fee, nothing else of the ledger


@SIZES
def test_a_first_posting_is_one_read_and_one_transaction(
    captured: CapturePayment, earlier_captures: int
) -> None:
    applied = capture_after(captured, earlier_captures, posted=False)

    with counting_aws_calls() as calls:
        ledger_listener(as_change(applied))

    assert dict(calls) == {"dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 1}
    assert calls.items_read == 0


def test_the_balance_item_keeps_the_running_sum(captured: CapturePayment, provisioned: Any) -> None:
    from cardops.ledger.domain.ledger import PROVIDER_CHANNEL, Channel
    from cardops.ledger.store import LedgerStore

    applied = captured(payment_id="pay_1")
    for _ in range(3):
        ledger_listener(as_change(applied))
    channel: Channel = PROVIDER_CHANNEL[applied.payment.provider]
    stored = LedgerStore().load("store-1", channel)
    assert stored.stored_balance == stored.ledger.balance and len(stored.ledger.entries) == 2
