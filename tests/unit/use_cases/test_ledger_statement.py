"""The statement use case on the fake ledgers: a page costs the page, the running balance opens from
the balance item's day sums, and only the statement's own cursor is accepted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from cardops.kernel.calendar import tokyo_date
from cardops.ledger.domain.fees import DEFAULT_PLANS
from cardops.ledger.domain.ledger import Cause, CauseKind, Channel, EntryKind, make_entry
from cardops.ledger.domain.statement import InvalidCursor, Order
from cardops.ledger.use_cases import LedgerService
from tests.builders import NOW
from tests.fakes.ledger import FakeLedgers


def service_with(size: int) -> tuple[LedgerService, FakeLedgers]:
    ledgers = FakeLedgers()
    ledgers.post(
        [
            make_entry(
                store_id="s1",
                channel=Channel.STANDARD,
                currency="JPY",
                kind=EntryKind.SALE if n % 3 else EntryKind.REFUND,
                amount=1000 + n if n % 3 else -(500 + n),
                cause=Cause(kind=CauseKind.CAPTURE if n % 3 else CauseKind.REFUND, id=f"c{n}"),
                now=NOW + timedelta(minutes=37 * n),
            )
            for n in range(size)
        ]
    )
    return LedgerService(ledgers, DEFAULT_PLANS), ledgers


def test_a_page_reads_the_page_and_opens_at_the_balance_before_its_dates() -> None:
    service, ledgers = service_with(300)
    everything = ledgers.load("s1", Channel.STANDARD, "JPY").ledger.entries
    since = tokyo_date(everything[150].created_at)
    page = service.statement("s1", Channel.STANDARD, "JPY", now=NOW, since=since, limit=25)
    assert ledgers.items_read == 26  # the page and one more (is there a next page?)
    before = [e for e in everything if tokyo_date(e.created_at) < since]
    assert page.opening_balance == sum(e.amount for e in before)
    assert page.entries == tuple(e for e in everything if tokyo_date(e.created_at) >= since)[:25]
    assert (
        page.balances[-1]
        == page.closing_balance
        == page.opening_balance + sum(e.amount for e in page.entries)
    )


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda c: c[:-3], "not one this API issued"),
        (lambda c: "%%%", "not one this API issued"),
        (lambda c: "eyJ4IjoxfQ", "not one this API issued"),  # {"x":1}
    ],
)
def test_a_tampered_cursor_is_refused_with_why(tamper: Callable[[str], str], message: str) -> None:
    service, _ = service_with(10)
    cursor = service.statement("s1", Channel.STANDARD, "JPY", now=NOW, limit=3).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor, match=message):
        service.statement("s1", Channel.STANDARD, "JPY", now=NOW, limit=3, cursor=tamper(cursor))
    with pytest.raises(InvalidCursor, match="another store"):
        service.statement("s2", Channel.STANDARD, "JPY", now=NOW, limit=3, cursor=cursor)
    with pytest.raises(InvalidCursor, match="other dates or another order"):
        service.statement(
            "s1", Channel.STANDARD, "JPY", now=NOW, limit=3, cursor=cursor, order=Order.NEWEST_FIRST
        )
