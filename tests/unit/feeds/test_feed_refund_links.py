from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from cardops.feeds.domain.models import StatementLine
from cardops.feeds.domain.refund_links import RefundLink, link_refunds

ReadLines = Callable[[str, str], list[StatementLine]]


def _line(
    line_id: str, day: date, amount: int, merchant: str = "ヨドバシカメラ 梅田", last4: str = "1234"
) -> StatementLine:
    return StatementLine(
        card_company="generic",
        line_id=line_id,
        usage_date=day,
        linkage_code="LK1",
        merchant=merchant,
        last4=last4,
        amount=amount,
        settlement="corporate",
        source_file="t.csv",
        line_number=2,
    )


def test_fixture_refund_links_to_the_purchase_in_the_earlier_file(read_lines: ReadLines) -> None:
    lines = read_lines("generic_2026-05-07.csv", "generic") + read_lines("generic_2026-05-08.csv", "generic")
    assert link_refunds(lines) == [
        RefundLink(refund_line_id="generic:G-0202", status="linked", purchase_line_id="generic:G-0200")
    ]


def test_third_format_refund_links_within_its_file(read_lines: ReadLines) -> None:
    lines = read_lines("jcb_corporate_2026-05-07.csv", "jcb_corporate")
    (link,) = link_refunds(lines)
    assert link.status == "linked"
    assert link.refund_line_id == lines[2].line_id and link.purchase_line_id == lines[0].line_id


def test_merchant_width_and_spacing_do_not_matter() -> None:
    purchase = _line("p", date(2026, 5, 1), 3300, merchant="ﾖﾄﾞﾊﾞｼｶﾒﾗ 梅田")
    refund = _line("r", date(2026, 5, 7), -3300, merchant="ヨドバシカメラ梅田")
    assert link_refunds([refund, purchase])[0].purchase_line_id == "p"


def test_window_default_is_90_days_and_configurable() -> None:
    refund_day = date(2026, 5, 7)
    purchase = _line("p", refund_day - timedelta(days=91), 3300)
    refund = _line("r", refund_day, -3300)
    assert link_refunds([purchase, refund])[0].status == "unmatched"
    assert link_refunds([purchase, refund], window=timedelta(days=91))[0].status == "linked"
    later = _line("late", refund_day + timedelta(days=1), 3300)  # after the refund: never its origin
    assert link_refunds([later, refund])[0].status == "unmatched"


def test_two_equal_purchases_are_listed_as_candidates() -> None:
    first, second = _line("p1", date(2026, 5, 1), 3300), _line("p2", date(2026, 5, 2), 3300)
    (link,) = link_refunds([first, second, _line("r", date(2026, 5, 7), -3300)])
    assert link == RefundLink(refund_line_id="r", status="ambiguous", candidate_line_ids=("p1", "p2"))


def test_two_refunds_for_two_purchases_do_not_reuse_a_purchase() -> None:
    lines = [
        _line("p1", date(2026, 5, 1), 3300),
        _line("r1", date(2026, 5, 3), -3300),
        _line("p2", date(2026, 5, 4), 3300),
        _line("r2", date(2026, 5, 7), -3300),
    ]
    assert [(link.refund_line_id, link.purchase_line_id) for link in link_refunds(lines)] == [
        ("r1", "p1"),
        ("r2", "p2"),
    ]
    assert link_refunds(lines[2:], already_linked=["p2"])[0].status == "unmatched"


def test_partial_refund_lists_larger_purchases_on_the_same_card_and_merchant() -> None:
    lines = [
        _line("big", date(2026, 5, 1), 5000),
        _line("small", date(2026, 5, 2), 500),
        _line("other-card", date(2026, 5, 2), 5000, last4="9999"),
        _line("other-shop", date(2026, 5, 2), 5000, merchant="別の店"),
        _line("r", date(2026, 5, 7), -1200),
    ]
    assert link_refunds(lines) == [
        RefundLink(refund_line_id="r", status="unmatched", candidate_line_ids=("big",))
    ]
