"""The store's ledger listing on the keys-only index (issue 13 item 4): a posting writes no index
copy of the balance item, and a balance listed the way it was before still lists."""

from __future__ import annotations

from typing import Any

import boto3

from cardops.ledger.domain.ledger import Channel
from cardops.ledger.store import LedgerStore
from tests.benchmarks.footprint import index_write_units, table_indexes
from tests.integration.ledger.conftest import CapturePayment

BALANCE_KEY = {"pk": "LEDGER#store-1#standard#JPY", "sk": "#BALANCE"}


def _balance(provisioned: Any) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table(provisioned.table_name)
    item: dict[str, Any] = table.get_item(Key=BALANCE_KEY, ConsistentRead=True)["Item"]
    return item


def test_a_posting_to_a_listed_ledger_writes_no_index_entry_for_its_balance(
    captured: CapturePayment, provisioned: Any
) -> None:
    """Each capture moves the balance; on a whole-item index that was a rewrite of its copy (one
    write unit per capture); keyed by the ledger on a keys-only index, the entry stays as it was."""
    captured(payment_id="pay_1")
    before = _balance(provisioned)
    captured(payment_id="pay_2")
    after = _balance(provisioned)

    assert after["balance"] != before["balance"]
    assert index_write_units(before, after, table_indexes()) == 0
    assert LedgerStore().ledgers_of("store-1") == [(Channel.STANDARD, "JPY")]


def test_a_balance_listed_on_the_whole_item_index_still_lists_and_moves_on_its_next_posting(
    captured: CapturePayment, provisioned: Any
) -> None:
    captured(payment_id="pay_1")
    client = boto3.client("dynamodb")
    client.update_item(  # the balance item as postings left it before the keys-only listing
        TableName=provisioned.table_name,
        Key={name: {"S": value} for name, value in BALANCE_KEY.items()},
        UpdateExpression="SET gsi1pk = :g, gsi1sk = :s REMOVE gsi3pk, gsi3sk",
        ExpressionAttributeValues={":g": {"S": "STORE#store-1#LEDGERS"}, ":s": {"S": "standard#JPY"}},
    )
    assert LedgerStore().ledgers_of("store-1") == [(Channel.STANDARD, "JPY")]

    captured(payment_id="pay_2")

    moved = _balance(provisioned)
    assert "gsi1pk" not in moved and moved["gsi3pk"] == "STORE#store-1#LEDGERS"
    assert LedgerStore().ledgers_of("store-1") == [(Channel.STANDARD, "JPY")]
