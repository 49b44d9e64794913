"""Card lines in the store: batch writes find stored lines, and a date range reads only its days."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from cardops.feeds.domain.models import StatementLine
from cardops.feeds.domain.settlement import LineRecord
from cardops.feeds.store import LINE_SHARDS, FeedStore, batch_writer, line_pk
from cardops.kernel import aws
from cardops.kernel.config import settings
from tests.helpers import counting_aws_calls


def record(day: int, n: int) -> LineRecord:
    line = StatementLine(
        card_company="generic",
        line_id=f"generic:D{day:02d}-{n}",
        statement_no=f"D{day:02d}-{n}",
        usage_date=date(2026, 4, day),
        linkage_code="LK0001",
        merchant="店",
        amount=100 + n,
        settlement="corporate",
        source_file="f.csv",
        line_number=n + 2,
    )
    return LineRecord(line=line, employee_code="E001")


def ids(lines: Any) -> list[str]:
    return [stored.record.line.line_id for stored in lines]


def test_batches_store_new_lines_once_and_a_date_range_reads_only_its_days(provisioned: Any) -> None:
    store = FeedStore(batch_writer())
    records = [record(day, n) for day in range(1, 21) for n in range(6)]
    assert store.add_lines("t1", records) == [True] * len(records)
    assert store.add_lines("t1", [records[0], record(21, 0), records[7]]) == [False, True, False]
    with counting_aws_calls() as calls:
        on_day = store.lines_on("t1", date(2026, 4, 3))
    assert ids(on_day) == sorted(f"generic:D03-{n}" for n in range(6))
    # one range query per shard answers that day's 6 pointers; BatchGetItem reads those 6 lines
    assert calls["dynamodb:Query"] == LINE_SHARDS and calls["dynamodb:BatchGetItem"] == 1
    assert calls.items_read == 12
    in_range = store.lines("t1", since=date(2026, 4, 19), until=date(2026, 4, 30))
    expected = sorted(f"generic:D{d:02d}-{n}" for d in (19, 20) for n in range(6))
    assert ids(in_range) == [*expected, "generic:D21-0"]
    assert store.get_line("t1", "generic:D05-1") is not None


def test_a_pointer_without_its_line_is_skipped_and_the_rerun_writes_the_line(provisioned: Any) -> None:
    store = FeedStore(batch_writer())
    lost = record(2, 0)
    # a crash between the pointer and the line: the pointer is there, the line is not
    aws.dynamodb().put_item(TableName=settings().table_name, Item=store._date_item("t2", lost.line))
    assert store.lines_on("t2", date(2026, 4, 2)) == []
    assert store.add_lines("t2", [lost]) == [True]
    assert ids(store.lines_on("t2", date(2026, 4, 2))) == [lost.line.line_id]


def test_line_by_line_writes_keep_the_same_layout(provisioned: Any) -> None:
    """The admin API's on-demand run has no batch writer: one transaction per line."""
    store = FeedStore()
    assert store.add_lines("t3", [record(4, 0), record(4, 0)]) == [True, False]
    assert ids(store.lines_on("t3", date(2026, 4, 4))) == ["generic:D04-0"]
    assert line_pk("t3", "generic:D04-0").startswith("TENANT#t3#LINES#")


def card_line(day: int, linkage: str, amount: int) -> LineRecord:
    line = StatementLine(
        card_company="generic",
        line_id=f"generic:{linkage}-{day:02d}-{amount}",
        statement_no=f"{linkage}-{day:02d}-{amount}",
        usage_date=date(2026, 4, day),
        linkage_code=linkage,
        merchant="店",
        amount=amount,
        settlement="corporate",
        source_file="f.csv",
        line_number=day,
    )
    return LineRecord(line=line, employee_code="E001")


def test_refund_linking_fetches_the_refunds_and_the_purchases_on_their_cards_only(provisioned: Any) -> None:
    store = FeedStore(batch_writer())
    others = [card_line(1 + n % 20, f"LK{n:04d}", 500 + n) for n in range(100)]
    purchase, refund = card_line(10, "LK9999", 800), card_line(20, "LK9999", -800)
    store.add_lines("t4", [*others, purchase, refund])
    with counting_aws_calls() as calls:
        needed = store.refund_lines(
            "t4", since=date(2026, 1, 1), until=date(2026, 4, 30), window=timedelta(days=90)
        )
    assert ids(needed) == sorted([purchase.line.line_id, refund.line.line_id])
    # refund pointers, then the date pointers' keys and card tags; only the two lines are fetched
    assert calls["dynamodb:Query"] == 2 * LINE_SHARDS and calls["dynamodb:BatchGetItem"] == 1
    assert calls.items_read == 1 + 102 + 2
    with counting_aws_calls() as calls:
        assert (
            store.refund_lines(
                "t1", since=date(2026, 1, 1), until=date(2026, 4, 30), window=timedelta(days=90)
            )
            == []
        )
    assert calls["dynamodb:Query"] == LINE_SHARDS and calls.items_read == 0
