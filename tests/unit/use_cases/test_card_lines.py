"""The card-line use cases (SPEC §7) on the in-memory feed store: employees imported with their
linkage codes held once, error lines matched again after a master fix, lines used once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cardops.feeds.domain.matching import TenantMatcher
from cardops.feeds.domain.models import StatementLine
from cardops.feeds.domain.settlement import LineRecord
from cardops.feeds.use_cases.card_lines import CardLineConflict, CardLines
from tests.builders import NOW
from tests.fakes.feeds import FakeFeedStore

EMPLOYEES = Path(__file__).resolve().parents[3] / "events" / "feeds" / "employees.csv"
CORPORATE_NUMBER = "5835678256246"  # the National Tax Agency's documented example
ADMIN = "arn:aws:iam::123456789012:user/admin"


def line(n: int, linkage_code: str, employee_code: str, kana: str) -> StatementLine:
    return StatementLine(
        card_company="generic",
        line_id=f"generic:{n}",
        usage_date=date(2026, 5, 7),
        linkage_code=linkage_code,
        employee_code=employee_code,
        kana_name=kana,
        merchant="タクシー",
        amount=1200,
        settlement="corporate",
        source_file="generic_2026-05-07.csv",
        line_number=n + 1,
    )


def seeded() -> tuple[CardLines, FakeFeedStore]:
    store = FakeFeedStore()
    cards = CardLines(store)
    cards.put_tenant("t1", CORPORATE_NUMBER, NOW, actor=ADMIN)
    result = cards.import_employees("t1", EMPLOYEES.read_bytes(), "employees.csv")
    assert result.problems == []
    matcher = TenantMatcher(CORPORATE_NUMBER, store.employees("t1"))
    records = []
    for statement in (
        line(1, "LK0001", "S0001", "ヤマダ タロウ"),
        line(2, "LK9999", "S0002", "ガッコウ ハナコ"),
    ):
        outcome = matcher.match(statement)
        code = outcome.employee.employee_code if outcome.employee else None
        records.append(LineRecord(line=statement, employee_code=code, error=outcome.error))
    assert store.add_lines("t1", records) == [True, True]
    return cards, store


def test_a_linkage_code_is_held_by_one_employee() -> None:
    cards, _ = seeded()
    clash = b"employee_code,name_kana,card_linkage_code,card_company_employee_code,settlement\n"
    clash += "E900,タナカ ジロウ,LK0001,S0900,corporate\n".encode()
    result = cards.import_employees("t1", clash, "more.csv")
    assert result.imported == 0
    assert [p.employee_code for p in result.problems] == ["E900"]


def test_an_unknown_linkage_code_is_error_data_until_the_master_knows_it() -> None:
    cards, store = seeded()
    [error] = cards.errors("t1")
    assert error.line_id == "generic:2"
    assert cards.rematch("t1").matched == []
    fixed = cards.apply_fix("t1", "generic:2")  # the proposed fix: E002's linkage code is LK9999
    assert (fixed.employee.employee_code, fixed.employee.card_linkage_code) == ("E002", "LK9999")
    assert fixed.rematch.matched == ["generic:2"]
    assert cards.errors("t1") == []
    assert store.linkage[("t1", "LK9999")] == "E002"
    assert ("t1", "LK0002") not in store.linkage  # the old code is free again


def test_an_error_line_is_assigned_by_hand_once() -> None:
    cards, _ = seeded()
    view = cards.assign("t1", "generic:2", "E003", actor=ADMIN)
    assert (view.employee_code, view.changed_by) == ("E003", ADMIN)
    with pytest.raises(CardLineConflict):
        cards.assign("t1", "generic:2", "E004", actor=ADMIN)


def test_a_line_used_in_a_claim_is_no_longer_selectable() -> None:
    cards, _ = seeded()
    assert [v.line_id for v in cards.employee_lines("t1", "E001", selectable_only=True)] == ["generic:1"]
    cards.select("t1", "E001", "generic:1", "report-1", actor=ADMIN)
    assert cards.employee_lines("t1", "E001", selectable_only=True) == []
    assert len(cards.employee_lines("t1", "E001", selectable_only=False)) == 1
