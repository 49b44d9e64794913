"""A ledger's balance and a payout read its balance item, not its entries: the cost is the same at
50 and at 500 entries (``tests/benchmarks/bench_ledger_scale.py`` measures 1k to 100k)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cardops.kernel import aws
from cardops.kernel.config import settings
from cardops.ledger.domain.ledger import Cause, CauseKind, Channel, EntryKind, LedgerTotals, make_entry
from cardops.ledger.store import LedgerStore, entry_writes, ledger_pk
from cardops.ledger.wiring import ledger_service
from tests.helpers import counting_aws_calls

NOW = datetime(2026, 5, 7, 3, 0, tzinfo=UTC)


def seed_ledger(store_id: str, size: int, *, now: datetime = NOW) -> None:
    """``size`` sales, the last ones not yet confirmed, written as postings write them (in batches)."""
    entries = [
        make_entry(
            store_id=store_id,
            channel=Channel.STANDARD,
            currency="JPY",
            kind=EntryKind.SALE,
            amount=1000 + n % 500,
            cause=Cause(kind=CauseKind.CAPTURE, id=f"pay_{n:07d}"),
            now=now - timedelta(days=60) + timedelta(seconds=n * 30),
            effective_on=(now + timedelta(days=3)).date() if n >= size - 3 else None,
        )
        for n in range(size)
    ]
    writes = entry_writes(entries)
    client, table = aws.dynamodb(), settings().table_name
    puts = [write.op["Put"]["Item"] for write in writes if "Put" in write.op]
    for first in range(0, len(puts), 25):
        request: Any = {table: [{"PutRequest": {"Item": item}} for item in puts[first : first + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    for write in writes:
        if "Update" in write.op:
            client.update_item(**write.op["Update"])


@pytest.mark.parametrize("size", [50, 500])
def test_balance_and_payout_cost_the_same_whatever_the_ledger_length(provisioned: Any, size: int) -> None:
    store_id = f"store-{size}"
    seed_ledger(store_id, size)
    service = ledger_service()
    with counting_aws_calls() as balance:
        [summary] = service.balances(store_id, now=NOW)
    # the store's ledgers (gsi3, and gsi1 for a balance listed there before: one page each) and the
    # one balance item
    assert dict(balance) == {"dynamodb:Query": 2, "dynamodb:GetItem": 1} and balance.items_read == 2
    full = LedgerStore().load(store_id, Channel.STANDARD, "JPY").ledger
    assert summary == full.summary(NOW.date()) and summary.pending > 0
    with counting_aws_calls() as payout:
        paid = service.request_payout(
            store_id, Channel.STANDARD, "JPY", request_id="p1", now=NOW, actor="arn:aws:iam::1:user/finance"
        )
    # the balance item, the payout's own entries by key (none yet), the conditional posting
    assert dict(payout) == {
        "dynamodb:GetItem": 1,
        "dynamodb:BatchGetItem": 1,
        "dynamodb:TransactWriteItems": 1,
    }
    assert payout.items_read == 1
    assert paid.gross == full.confirmed_balance(NOW.date())
    with counting_aws_calls() as repeat:
        again = service.request_payout(
            store_id, Channel.STANDARD, "JPY", request_id="p1", now=NOW, actor="arn:aws:iam::1:user/finance"
        )
    assert again == paid and dict(repeat) == {"dynamodb:GetItem": 1, "dynamodb:BatchGetItem": 1}


def test_a_balance_item_from_before_the_day_sums_is_completed_once(provisioned: Any) -> None:
    seed_ledger("store-old", 40)
    pk = ledger_pk("store-old", Channel.STANDARD, "JPY")
    key = {"pk": {"S": pk}, "sk": {"S": "#BALANCE"}}
    item = aws.dynamodb().get_item(TableName=settings().table_name, Key=key)["Item"]
    old = [name for name in item if name.startswith("eff_") or name == "tracked_count"]
    aws.dynamodb().update_item(
        TableName=settings().table_name,
        Key=key,
        UpdateExpression="REMOVE " + ", ".join(f"#a{i}" for i in range(len(old))),
        ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(old)},
    )
    store = LedgerStore()
    full = LedgerTotals.of(store.load("store-old", Channel.STANDARD, "JPY").ledger)
    assert store.totals("store-old", Channel.STANDARD, "JPY") == full
    with counting_aws_calls() as calls:
        assert store.totals("store-old", Channel.STANDARD, "JPY") == full
    assert dict(calls) == {"dynamodb:GetItem": 1}
