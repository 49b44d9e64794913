from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from cardops.feeds.domain.diagnosis import TenantFeedFacts, diagnose
from cardops.feeds.domain.matching import ProposedFix, TenantMatcher
from cardops.feeds.domain.models import Employee, StatementLine
from cardops.feeds.domain.settlement import LineRecord

#: A valid 法人番号 (the National Tax Agency's documented example).
VALID_CORPORATE_NUMBER = "5835678256246"

# Thursday 2026-05-07 08:00 JST: that day's 06:00 sync has run.
NOW = datetime(2026, 5, 6, 23, 0, tzinfo=UTC)
WATERMARK = datetime(2026, 5, 6, 21, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def records(
    employees: list[Employee], read_lines: Callable[[str, str], list[StatementLine]]
) -> list[LineRecord]:
    matcher = TenantMatcher(VALID_CORPORATE_NUMBER, employees)
    out: list[LineRecord] = []
    for name, company in [("saison_cp932_halfwidth.csv", "saison"), ("generic_utf8_bom.csv", "generic")]:
        for line in read_lines(name, company):
            result = matcher.match(line)
            code = result.employee.employee_code if result.employee else None
            out.append(LineRecord(line=line, employee_code=code, error=result.error))
    return out


def by_code(employees: list[Employee], code: str) -> Employee:
    return next(e for e in employees if e.employee_code == code)


def facts(records: list[LineRecord], corporate: str | None = VALID_CORPORATE_NUMBER) -> TenantFeedFacts:
    return TenantFeedFacts(corporate_number=corporate, lines=records, last_sync_watermark=WATERMARK)


def test_selectable(employees: list[Employee], records: list[LineRecord]) -> None:
    result = diagnose(by_code(employees, "E001"), date(2026, 4, 28), facts(records), NOW, amount=1200)
    assert result.cause == "selectable"
    assert result.line_ids == ("saison:S-0001",)
    assert result.facts.card_company == "saison"
    assert result.facts.card_company_employee_code is None  # Credit Saison needs none
    assert result.facts.card_linkage_code == "LK0001"
    assert result.facts.settlement == "corporate"


def test_unmatched_with_reason_fields_and_fix(employees: list[Employee], records: list[LineRecord]) -> None:
    result = diagnose(by_code(employees, "E002"), date(2026, 4, 28), facts(records), NOW)
    assert result.cause == "unmatched"
    assert result.reason == "name_small_kana"
    assert result.proposed_fix == ProposedFix(
        employee_code="E002", field="name_kana", value="ガツコウ ハナコ"
    )
    assert {c.field for c in result.compared} == {"card_linkage_code", "name_kana"}
    assert result.settlement_note is not None and "corporate-settled" in result.settlement_note


def test_unmatched_with_employee_code_for_a_company_that_needs_it(
    employees: list[Employee], records: list[LineRecord]
) -> None:
    result = diagnose(by_code(employees, "E004"), date(2026, 4, 27), facts(records), NOW, amount=8800)
    assert (result.cause, result.reason) == ("unmatched", "employee_code_mismatch")
    assert result.facts.card_company == "generic"
    assert result.facts.card_company_employee_code == "S9999"


def test_already_used(employees: list[Employee], records: list[LineRecord]) -> None:
    used = [
        r.model_copy(update={"report_id": "R-1"}) if r.line.line_id == "saison:S-0001" else r for r in records
    ]
    result = diagnose(by_code(employees, "E001"), date(2026, 4, 28), facts(used), NOW)
    assert (result.cause, result.report_id) == ("already_used", "R-1")


def test_excluded(employees: list[Employee], records: list[LineRecord]) -> None:
    excluded = [
        r.model_copy(update={"excluded": True}) if r.line.line_id == "saison:S-0004" else r for r in records
    ]
    result = diagnose(by_code(employees, "E007"), date(2026, 5, 1), facts(excluded), NOW)
    assert result.cause == "excluded"
    assert result.facts.settlement == "personal"
    assert result.settlement_note is not None and "personal-settled" in result.settlement_note


def test_not_yet_synced_names_the_next_sync(employees: list[Employee], records: list[LineRecord]) -> None:
    result = diagnose(by_code(employees, "E001"), date(2026, 5, 6), facts(records), NOW)
    assert result.cause == "not_yet_synced"
    assert result.next_sync_date == date(2026, 5, 8)
    assert "own schedule" in result.message
    assert result.last_sync_watermark == WATERMARK
    before_golden_week = diagnose(
        by_code(employees, "E001"), date(2026, 5, 1), facts(records), datetime(2026, 5, 1, 12, tzinfo=UTC)
    )
    assert before_golden_week.next_sync_date == date(2026, 5, 7)


def test_wrong_amount_is_not_the_line(employees: list[Employee], records: list[LineRecord]) -> None:
    result = diagnose(by_code(employees, "E001"), date(2026, 4, 28), facts(records), NOW, amount=999)
    assert result.cause == "not_yet_synced"


@pytest.mark.parametrize(
    ("corporate", "cause"),
    [(None, "corporate_number_missing"), ("1835678256246", "corporate_number_invalid")],
)
def test_corporate_number_comes_first(
    employees: list[Employee], records: list[LineRecord], corporate: str | None, cause: str
) -> None:
    result = diagnose(by_code(employees, "E001"), date(2026, 4, 28), facts(records, corporate), NOW)
    assert result.cause == cause and result.reason == cause


def test_another_employees_line_is_not_theirs(employees: list[Employee], records: list[LineRecord]) -> None:
    result = diagnose(by_code(employees, "E005"), date(2026, 4, 28), facts(records), NOW)
    assert result.cause == "not_yet_synced"


def test_selectable_wins_over_other_states(employees: list[Employee], records: list[LineRecord]) -> None:
    extra = records[0].model_copy(
        update={"line": records[0].line.model_copy(update={"line_id": "saison:S-9"}), "report_id": "R-9"}
    )
    result = diagnose(by_code(employees, "E001"), date(2026, 4, 28), facts([*records, extra]), NOW)
    assert (result.cause, result.line_ids) == ("selectable", ("saison:S-0001",))
