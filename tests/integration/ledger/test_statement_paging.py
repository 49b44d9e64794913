"""A statement reads one page of the time index (keys only) and that page's entries by key, and the
balance item, not the ledger: the same calls and about twice ``limit`` items at 1,000 entries;
pages visit every entry once, in order, with the running balance; a cursor that is not the
statement's own is a 400 (``bench_ledger_scale`` measures 100k)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from cardops.handlers import admin
from cardops.kernel import aws
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.config import settings
from cardops.ledger.domain.ledger import Channel, LedgerEntry, LedgerTotals
from cardops.ledger.domain.statement import Order, time_key
from cardops.ledger.store import LedgerStore, ledger_pk
from cardops.ledger.wiring import ledger_service
from tests.helpers import call, counting_aws_calls
from tests.integration.ledger.test_ledger_scale import NOW, seed_ledger

FINANCE = "arn:aws:iam::1:user/finance"
#: a statement page: the balance item, the time index's keys, the page's entries
PAGE_CALLS = {"dynamodb:GetItem": 1, "dynamodb:Query": 1, "dynamodb:BatchGetItem": 1}


def handler(event: dict[str, Any], context: Any) -> Any:
    return admin.handler(event, context)


def test_a_statement_page_at_1000_entries_reads_the_page_not_the_ledger(provisioned: Any) -> None:
    seed_ledger("store-1k", 1000)  # 30 s apart: 1,000 entries over about 8 days
    service = ledger_service()
    last_day = tokyo_date(NOW - timedelta(days=60) + timedelta(seconds=999 * 30))
    with counting_aws_calls() as calls:
        page = service.statement("store-1k", Channel.STANDARD, "JPY", now=NOW, since=last_day, limit=50)
    # the balance item, one Query of the time index's keys (one more than the page: is there more?)
    # and the page's entries by key
    assert dict(calls) == PAGE_CALLS
    assert calls.items_read <= 2 * 50 + 2
    full = LedgerStore().load("store-1k", Channel.STANDARD, "JPY").ledger
    before = [e for e in full.entries if tokyo_date(e.created_at) < last_day]
    on_day = [e for e in full.entries if tokyo_date(e.created_at) == last_day]
    assert page.entries == tuple(on_day[:50]) and page.next_cursor is not None
    assert page.opening_balance == sum(e.amount for e in before)  # from the day sums, not the entries
    assert page.balances[-1] == page.closing_balance == sum(e.amount for e in before + on_day[:50])
    with counting_aws_calls() as newest:
        latest = service.statement(
            "store-1k", Channel.STANDARD, "JPY", now=NOW, limit=20, order=Order.NEWEST_FIRST
        )
    assert dict(newest) == PAGE_CALLS and newest.items_read <= 2 * 20 + 2
    assert latest.entries == tuple(reversed(full.entries[-20:]))
    assert latest.balances[0] == latest.closing_balance == full.balance


@pytest.mark.parametrize("order", list(Order))
def test_pages_visit_every_entry_once_in_order_with_the_running_balance(
    provisioned: Any, order: Order
) -> None:
    seed_ledger("store-pages", 130)
    service = ledger_service()
    full = LedgerStore().load("store-pages", Channel.STANDARD, "JPY").ledger
    since = tokyo_date(full.entries[40].created_at)
    until = tokyo_date(full.entries[100].created_at)
    window = [e for e in full.entries if since <= tokyo_date(e.created_at) <= until]
    seen: list[LedgerEntry] = []
    balances: list[int] = []
    cursor: str | None = None
    for _ in range(20):
        page = service.statement(
            "store-pages",
            Channel.STANDARD,
            "JPY",
            now=NOW,
            since=since,
            until=until,
            limit=7,
            cursor=cursor,
            order=order,
        )
        seen.extend(page.entries)
        balances.extend(page.balances)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = window if order is Order.OLDEST_FIRST else list(reversed(window))
    assert [e.entry_id for e in seen] == [e.entry_id for e in expected]
    assert [time_key(e) for e in seen] == sorted(map(time_key, seen), reverse=order is Order.NEWEST_FIRST)
    after_each = {
        e.entry_id: sum(x.amount for x in full.entries[: i + 1]) for i, e in enumerate(full.entries)
    }
    assert balances == [after_each[e.entry_id] for e in seen]


def test_a_cursor_that_is_not_the_statements_own_is_refused_with_a_400(provisioned: Any) -> None:
    seed_ledger("store-c", 12)
    seed_ledger("store-d", 3)
    path = "/admin/stores/store-c/statement"
    status, first = call(handler, "GET", f"{path}?limit=5")
    assert status == 200 and len(first["entries"]) == 5 and first["next_cursor"]
    assert first["balances"][-1] == first["closing_balance"] == sum(e["amount"] for e in first["entries"])
    cursor = first["next_cursor"]
    status, second = call(handler, "GET", f"{path}?limit=5&cursor={cursor}")
    assert status == 200 and second["opening_balance"] == first["closing_balance"]
    assert {e["entry_id"] for e in first["entries"]}.isdisjoint(e["entry_id"] for e in second["entries"])
    forged = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    early = {**forged, "s": "2026-01-01", "k": "2001-01-01T00:00:00.000000Z#x"}  # before the dates asked
    outside = base64.urlsafe_b64encode(json.dumps(early).encode())
    hostile = {
        "garbage": ("not-a-cursor!", "not one this API issued"),
        "another store's": (cursor, "another store"),
        "another order's": (cursor, "other dates or another order"),
        "a key outside the dates": (outside.decode(), "does not point into this statement"),
    }
    for what, (bad, message) in hostile.items():
        target = "/admin/stores/store-d/statement" if what == "another store's" else path
        query = f"limit=5&cursor={bad}" + ("&order=newest_first" if what == "another order's" else "")
        query += "&since=2026-01-01" if what == "a key outside the dates" else ""
        status, body = call(handler, "GET", f"{target}?{query}")
        assert status == 400, what
        assert body["error"]["code"] == "invalid_cursor" and message in body["error"]["message"], what


def test_a_settlement_decides_from_the_balance_item_not_the_ledger(provisioned: Any) -> None:
    seed_ledger("store-settle", 300)
    service = ledger_service()
    full = LedgerStore().load("store-settle", Channel.STANDARD, "JPY").ledger
    with counting_aws_calls() as calls:
        settled = service.settle(
            "store-settle", Channel.STANDARD, "JPY", settlement_id="s1", now=NOW, actor=FINANCE
        )
    assert dict(calls) == {
        "dynamodb:GetItem": 1,
        "dynamodb:BatchGetItem": 1,
        "dynamodb:TransactWriteItems": 1,
    }
    assert calls.items_read == 1
    assert settled.net == full.balance and settled.pending_netted == full.pending_balance(tokyo_date(NOW))
    again = service.settle(
        "store-settle", Channel.STANDARD, "JPY", settlement_id="s1", now=NOW, actor=FINANCE
    )
    assert again.payout == settled.payout and again.entries == ()


def test_a_ledger_from_before_the_time_index_is_indexed_once(provisioned: Any) -> None:
    seed_ledger("store-old-index", 30)
    pk = ledger_pk("store-old-index", Channel.STANDARD, "JPY")
    client, table = aws.dynamodb(), settings().table_name
    for item in client.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )["Items"]:
        old = [n for n in item if n in ("gsi3pk", "gsi3sk")]
        old += [n for n in item if n.startswith("at_") or n in ("dated_count", "keyed_count")]
        if old:
            client.update_item(
                TableName=table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="REMOVE " + ", ".join(f"#a{i}" for i in range(len(old))),
                ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(old)},
            )
    service = ledger_service()
    full = LedgerStore().load("store-old-index", Channel.STANDARD, "JPY").ledger
    page = service.statement("store-old-index", Channel.STANDARD, "JPY", now=NOW, limit=100)
    assert page.entries == full.entries and page.closing_balance == full.balance
    assert LedgerStore().totals("store-old-index", Channel.STANDARD, "JPY") == LedgerTotals.of(full)
    with counting_aws_calls() as calls:
        service.statement("store-old-index", Channel.STANDARD, "JPY", now=NOW, limit=100)
    assert dict(calls) == PAGE_CALLS  # indexed: no second pass


def test_a_ledger_on_the_whole_item_time_index_moves_to_the_keys_only_one_once(provisioned: Any) -> None:
    """Entries posted before gsi3 are on gsi1 (which projects whole items): the first read gives
    them their gsi3 keys and takes them off gsi1, so they are no longer stored twice."""
    seed_ledger("store-gsi1", 30)
    pk = ledger_pk("store-gsi1", Channel.STANDARD, "JPY")
    client, table = aws.dynamodb(), settings().table_name

    def items() -> list[dict[str, Any]]:
        return client.query(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
        )["Items"]

    for item in items():
        if item["sk"]["S"] == "#BALANCE":
            update = {"UpdateExpression": "REMOVE keyed_count"}
        else:  # as entries were indexed before: on gsi1, with the same keys
            update = {
                "UpdateExpression": "SET gsi1pk = :p, gsi1sk = :s REMOVE gsi3pk, gsi3sk",
                "ExpressionAttributeValues": {":p": item["gsi3pk"], ":s": item["gsi3sk"]},
            }
        client.update_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]}, **update)
    service = ledger_service()
    full = LedgerStore().load("store-gsi1", Channel.STANDARD, "JPY").ledger
    page = service.statement("store-gsi1", Channel.STANDARD, "JPY", now=NOW, limit=100)
    assert page.entries == full.entries and page.closing_balance == full.balance
    entries = [item for item in items() if item["sk"]["S"].startswith("ENTRY#")]
    assert len(entries) == 30
    assert all("gsi3pk" in item and "gsi1pk" not in item for item in entries)
    with counting_aws_calls() as calls:
        service.statement("store-gsi1", Channel.STANDARD, "JPY", now=NOW, limit=100)
    assert dict(calls) == PAGE_CALLS


def test_correcting_a_refund_reads_its_own_entries_not_the_ledger(provisioned: Any) -> None:
    from cardops.ledger.wiring import refund_book
    from cardops.payments.domain.refunds import cancel_refund
    from tests.builders import captured_payment, refund_request

    sale = captured_payment("sandbox", "pay_big", store_id="store-big", amount=10_000).payment
    seed_ledger("store-big", 300)
    first = refund_request(sale, 4000)
    book = refund_book()
    book.record_request(first.refund, first.entries, captured=10_000)
    with counting_aws_calls() as calls:
        ledger = book.ledger("store-big", Channel.STANDARD, "JPY", cause=first.refund.cause)
    assert dict(calls) == {"dynamodb:BatchGetItem": 1} and calls.items_read == len(first.entries)
    assert {e.entry_id for e in ledger.entries} == {e.entry_id for e in first.entries}
    canceled = cancel_refund(first.refund, ledger, now=NOW, actor=FINANCE)
    book.record_change(first.refund, canceled.refund, canceled.entries, canceled.alerts, release=4000)
    again = book.ledger("store-big", Channel.STANDARD, "JPY", cause=first.refund.cause)
    assert len(again.entries) == 2 * len(first.entries) and again.open_entries_for(first.refund.cause) == ()
