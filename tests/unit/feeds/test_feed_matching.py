from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from cardops.feeds.domain.matching import (
    REASON_CODES,
    DuplicateLinkageCode,
    LinkingBlocked,
    MatchResult,
    ProposedFix,
    TenantMatcher,
    UnknownEmployee,
)
from cardops.feeds.domain.models import Employee, StatementLine

#: A valid 法人番号 (the National Tax Agency's documented example).
VALID_CORPORATE_NUMBER = "5835678256246"
ReadLines = Callable[[str, str], list[StatementLine]]


def line(card_company: str = "generic", **fields: object) -> StatementLine:
    values: dict[str, object] = {
        "card_company": card_company,
        "line_id": f"{card_company}:T-1",
        "usage_date": date(2026, 5, 7),
        "linkage_code": "LK1",
        "employee_code": "S1",
        "kana_name": "ガツコウ ハナコ",
        "merchant": "店",
        "amount": 1000,
        "settlement": "corporate",
        "source_file": "t.csv",
        "line_number": 2,
    }
    values.update(fields)
    return StatementLine.model_validate(values)


def employee(**fields: object) -> Employee:
    values: dict[str, object] = {
        "employee_code": "E1",
        "name_kana": "ガツコウ ハナコ",
        "card_linkage_code": "LK1",
        "card_company_employee_code": "S1",
    }
    values.update(fields)
    return Employee.model_validate(values)


def match(
    statement: StatementLine, *employees: Employee, corporate: str | None = VALID_CORPORATE_NUMBER
) -> MatchResult:
    return TenantMatcher(corporate, employees or (employee(),)).match(statement)


def error_of(result: MatchResult) -> tuple[str, ProposedFix | None]:
    assert result.error is not None, "expected an unmatched line"
    return result.error.reason, result.error.proposed_fix


def test_exact_match_and_meaningless_differences() -> None:
    for kana in ("ガツコウ ハナコ", "ｶﾞﾂｺｳﾊﾅｺ", "がつこう　はなこ", "カ\u3099ツコウハナコ"):
        result = match(line(kana_name=kana))
        assert result.matched and result.employee is not None and result.employee.employee_code == "E1"
    assert match(line(linkage_code="ＬＫ１", employee_code="Ｓ１")).matched


def test_unknown_linkage_code() -> None:
    result = match(line(linkage_code="LK404", employee_code="S404", kana_name="ダレ"))
    assert error_of(result) == ("unknown_linkage_code", None)
    assert result.error is not None and "unknown linkage code" in result.error.hint


def test_unknown_linkage_code_proposes_the_code_when_other_fields_point_at_one_employee() -> None:
    result = match(line(linkage_code="LK2"))
    assert error_of(result) == (
        "unknown_linkage_code",
        ProposedFix(employee_code="E1", field="card_linkage_code", value="LK2"),
    )


def test_employee_code_mismatch_for_companies_that_need_it() -> None:
    result = match(line(employee_code="S9"))
    assert error_of(result) == (
        "employee_code_mismatch",
        ProposedFix(employee_code="E1", field="card_company_employee_code", value="S9"),
    )
    assert result.error is not None and "employee code differs" in result.error.hint
    compared = {c.field: (c.card_value, c.master_value) for c in result.error.compared}
    assert compared["card_company_employee_code"] == ("S9", "S1")


def test_saison_needs_no_employee_code() -> None:
    assert match(line("saison", employee_code=None)).matched
    assert match(line("saison", employee_code="whatever")).matched


def test_jcb_corporate_needs_no_kana_but_an_employee_code() -> None:
    assert match(line("jcb_corporate", kana_name="ベツジン")).matched
    assert error_of(match(line("jcb_corporate", employee_code="S2")))[0] == "employee_code_mismatch"


def test_employee_code_falls_back_to_the_master_code() -> None:
    assert match(line(employee_code="E1"), employee(card_company_employee_code=None)).matched


def test_small_kana_never_matches_silently() -> None:
    result = match(line(kana_name="ガツコウ ハナコ"), employee(name_kana="ガッコウ ハナコ"))
    assert error_of(result) == (
        "name_small_kana",
        ProposedFix(employee_code="E1", field="name_kana", value="ガツコウ ハナコ"),
    )
    assert result.error is not None and "small kana registered as large" in result.error.hint


def test_small_kana_in_hiragana_master() -> None:
    result = match(line(kana_name="ｷﾖｳｺ"), employee(name_kana="きょうこ"))
    assert error_of(result) == (
        "name_small_kana",
        ProposedFix(employee_code="E1", field="name_kana", value="キヨウコ"),
    )


def test_romaji_never_matches_silently() -> None:
    result = match(line("saison", kana_name="ｾｲｻﾝ"), employee(name_kana="seisan"))
    assert error_of(result) == (
        "name_romaji",
        ProposedFix(employee_code="E1", field="name_kana", value="セイサン"),
    )
    assert result.error is not None and "romaji entered where kana is expected" in result.error.hint


def test_romaji_with_small_kana_reading_proposes_card_form() -> None:
    result = match(line(kana_name="ガツコウ"), employee(name_kana="gakkou"))
    assert error_of(result) == (
        "name_romaji",
        ProposedFix(employee_code="E1", field="name_kana", value="ガツコウ"),
    )


def test_romaji_that_reads_otherwise_names_the_reason_without_a_fix() -> None:
    assert error_of(match(line(kana_name="セイサン"), employee(name_kana="keihi"))) == ("name_romaji", None)


def test_name_mismatch() -> None:
    result = match(line(kana_name="カトウ ケイコ"), employee(name_kana="サトウ ケイコ"))
    assert error_of(result) == ("name_mismatch", None)
    assert result.error is not None
    compared = {c.field: (c.card_value, c.master_value) for c in result.error.compared}
    assert compared["name_kana"] == ("カトウ ケイコ", "サトウ ケイコ")


def test_letter_case_is_a_mismatch_with_the_card_form_proposed() -> None:
    result = match(line(kana_name="SEISAN TARO"), employee(name_kana="Seisan Taro"))
    assert error_of(result) == (
        "name_mismatch",
        ProposedFix(employee_code="E1", field="name_kana", value="SEISAN TARO"),
    )


@pytest.mark.parametrize(
    ("corporate", "reason"),
    [(None, "corporate_number_missing"), ("1234567890123", "corporate_number_invalid")],
)
def test_no_line_is_linked_without_a_valid_corporate_number(corporate: str | None, reason: str) -> None:
    result = match(line(), corporate=corporate)
    assert error_of(result) == (reason, None)
    with pytest.raises(LinkingBlocked):
        TenantMatcher(corporate, [employee()]).assign(line(), "E1")


def test_every_reason_code_is_produced_by_a_test_above() -> None:
    produced = {
        error_of(match(line(linkage_code="LK404", employee_code="S404", kana_name="ダレ")))[0],
        error_of(match(line(employee_code="S9")))[0],
        error_of(match(line(), employee(name_kana="ガッコウ ハナコ")))[0],
        error_of(match(line(kana_name="セイサン"), employee(name_kana="seisan")))[0],
        error_of(match(line(kana_name="ダレ")))[0],
        error_of(match(line(), corporate=None))[0],
        error_of(match(line(), corporate="1999999999999"))[0],
    }
    assert produced == set(REASON_CODES)


def test_fixtures_match_as_the_sample_data_intends(matcher: TenantMatcher, read_lines: ReadLines) -> None:
    outcomes: dict[str, str] = {}
    for name, company in [
        ("saison_cp932_halfwidth.csv", "saison"),
        ("generic_utf8_bom.csv", "generic"),
        ("jcb_corporate_2026-05-07.csv", "jcb_corporate"),
    ]:
        for statement in read_lines(name, company):
            result = matcher.match(statement)
            assert statement.statement_no is None or result.line_id == statement.line_id
            key = statement.statement_no or f"{company}:{statement.line_number}"
            outcomes[key] = result.employee.employee_code if result.employee else error_of(result)[0]
    assert outcomes == {
        "S-0001": "E001",
        "S-0002": "name_small_kana",
        "S-0003": "name_romaji",
        "S-0004": "E007",
        "G-0001": "E001",
        "G-0002": "employee_code_mismatch",
        "G-0003": "name_mismatch",
        "G-0004": "unknown_linkage_code",
        "G-0005": "E005",
        "jcb_corporate:2": "E001",
        "jcb_corporate:3": "employee_code_mismatch",
        "jcb_corporate:4": "E001",
        "jcb_corporate:5": "E005",
    }


def test_rematch_after_applying_the_proposed_fix(employees: list[Employee], read_lines: ReadLines) -> None:
    statement = read_lines("saison_cp932_halfwidth.csv", "saison")[1]
    before = TenantMatcher(VALID_CORPORATE_NUMBER, employees).match(statement)
    assert before.error is not None and before.error.proposed_fix is not None
    fix = before.error.proposed_fix
    fixed = [
        e.model_copy(update={fix.field: fix.value}) if e.employee_code == fix.employee_code else e
        for e in employees
    ]
    after = TenantMatcher(VALID_CORPORATE_NUMBER, fixed).match(statement)
    assert after.matched and after.employee is not None and after.employee.employee_code == "E002"


def test_hand_assignment() -> None:
    matcher = TenantMatcher(VALID_CORPORATE_NUMBER, [employee()])
    result = matcher.assign(line(kana_name="ダレ"), "E1")
    assert result.matched and result.method == "manual"
    with pytest.raises(UnknownEmployee):
        matcher.assign(line(), "E404")


def test_duplicate_linkage_codes_are_refused() -> None:
    with pytest.raises(DuplicateLinkageCode):
        TenantMatcher(VALID_CORPORATE_NUMBER, [employee(), employee(employee_code="E2")])


def test_matching_10k_lines_against_2k_employees_finds_each_ones_own_employee() -> None:
    """Correctness at size only; the speed (lines matched per second, as a ratio to csv.reader on
    the same machine) is measured by ``make bench`` (tests/benchmarks/bench_feeds.py), never here."""
    staff = [
        employee(employee_code=f"E{n}", card_linkage_code=f"LK{n}", card_company_employee_code=f"S{n}")
        for n in range(2000)
    ]
    matcher = TenantMatcher(VALID_CORPORATE_NUMBER, staff)
    statements = [
        line(line_id=f"generic:{n}", linkage_code=f"LK{n % 2000}", employee_code=f"S{n % 2000}")
        for n in range(10000)
    ]
    results = [matcher.match(s) for s in statements]
    assert all(r.matched for r in results)
    assert all(r.employee and r.employee.employee_code == f"E{n % 2000}" for n, r in enumerate(results))
