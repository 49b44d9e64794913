from __future__ import annotations

import io

import pytest

from cardops.feeds.domain.employees import parse_employees_csv
from cardops.feeds.domain.models import Employee, RowError
from cardops.feeds.domain.reader import FeedFileError


def test_sample_master(employees: list[Employee]) -> None:
    assert [e.employee_code for e in employees] == ["E001", "E002", "E003", "E004", "E005", "E006", "E007"]
    assert employees[4].settlement == "personal"
    assert employees[5].card_company_employee_code is None
    assert employees[5].code_at_card_company == "E006"


def test_japanese_headers_cp932_and_bad_rows() -> None:
    text = (
        "社員コード,氏名カナ,カード連携用コード,カード会社社員コード,決済区分\r\n"
        "E1,ﾔﾏﾀﾞ ﾀﾛｳ,LK1,S1,個人\r\n"
        "E2,,LK2,S2,法人\r\n"
        "E3,スズキ,LK1,,法人\r\n"
        "E4,サトウ,LK4,,会社\r\n"
        "E5,カトウ,LK5\r\n"
        "E6,イトウ,LK6,,\r\n"
    )
    items = list(parse_employees_csv(io.BytesIO(text.encode("cp932")), "m.csv"))
    assert isinstance(items[0], Employee) and items[0].settlement == "personal"
    errors = [item for item in items if isinstance(item, RowError)]
    assert [e.line_number for e in errors] == [3, 4, 5, 6]
    assert "name_kana" in errors[0].reason
    assert "already used by E1" in errors[1].reason
    assert "settlement" in errors[2].reason
    assert "columns" in errors[3].reason
    assert isinstance(items[-1], Employee) and items[-1].settlement == "corporate"


def test_missing_required_header() -> None:
    with pytest.raises(FeedFileError, match="missing header"):
        parse_employees_csv(io.BytesIO(b"employee_code,name_kana\nE1,A\n"))


def test_unknown_header() -> None:
    with pytest.raises(FeedFileError, match="unknown header"):
        parse_employees_csv(io.BytesIO(b"employee_code,name_kana,card_linkage_code,memo\n"))
