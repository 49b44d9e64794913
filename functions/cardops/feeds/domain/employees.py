"""Bulk import of the employee master from CSV (SPEC §7, §8 contract 5).

Admins keep the master in spreadsheets, saved as UTF-8 or Shift_JIS/CP932, with English or
Japanese headers. Each valid row becomes an ``Employee``; a bad row becomes a ``RowError`` and the
rest still imports. A linkage code used twice is a row error on the later row, because matching
needs one employee per code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from pydantic import ValidationError

from cardops.feeds.domain.models import Employee, RowError
from cardops.feeds.domain.normalize import normalize_code
from cardops.feeds.domain.reader import DecodedLines, FeedFileError, ReadableBinary, parse_csv_line

#: Accepted header names → ``Employee`` fields.
EMPLOYEE_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "employee_code": "employee_code",
        "社員コード": "employee_code",
        "name_kana": "name_kana",
        "氏名カナ": "name_kana",
        "card_linkage_code": "card_linkage_code",
        "カード連携用コード": "card_linkage_code",
        "card_company_employee_code": "card_company_employee_code",
        "カード会社社員コード": "card_company_employee_code",
        "settlement": "settlement",
        "決済区分": "settlement",
    }
)
_REQUIRED = ("employee_code", "name_kana", "card_linkage_code")
_SETTLEMENT_WORDS: Mapping[str, str] = MappingProxyType(
    {"法人": "corporate", "個人": "personal", "corporate": "corporate", "personal": "personal"}
)


def parse_employees_csv(
    stream: ReadableBinary, source_file: str = "employees.csv"
) -> Iterator[Employee | RowError]:
    """The employees of a master CSV, row by row; header problems raise ``FeedFileError`` at once."""
    lines = DecodedLines(stream, source_file)
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        raise FeedFileError(source_file, "empty file: no header")
    header = [cell.strip().lstrip("\ufeff") for cell in parse_csv_line(first[1], ",")]
    if unknown := [name for name in header if name and name not in EMPLOYEE_HEADERS]:
        raise FeedFileError(source_file, f"unknown header(s): {', '.join(unknown)}")
    fields = [EMPLOYEE_HEADERS.get(name, "") for name in header]
    if missing := [field for field in _REQUIRED if field not in fields]:
        raise FeedFileError(source_file, f"missing header(s): {', '.join(missing)}")
    if len(set(filter(None, fields))) != len([f for f in fields if f]):
        raise FeedFileError(source_file, "a field appears under two headers")
    return _rows(iterator, fields, source_file)


def _rows(
    iterator: Iterator[tuple[int, str]], fields: list[str], source_file: str
) -> Iterator[Employee | RowError]:
    seen_linkage: dict[str, str] = {}
    for number, text in iterator:
        if not text.strip():
            continue
        cells = parse_csv_line(text, ",")
        if "\ufffd" in text or len(cells) != len(fields):
            reason = (
                "undecodable bytes"
                if "\ufffd" in text
                else f"expected {len(fields)} columns, found {len(cells)}"
            )
            yield RowError(source_file=source_file, line_number=number, reason=reason)
            continue
        values = {field: cell.strip() for field, cell in zip(fields, cells, strict=True) if field}
        if "settlement" in values:
            values["settlement"] = (
                _SETTLEMENT_WORDS.get(values["settlement"], values["settlement"]) or "corporate"
            )
        try:
            employee = Employee.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            yield RowError(source_file=source_file, line_number=number, reason=problems)
            continue
        key = normalize_code(employee.card_linkage_code)
        if (holder := seen_linkage.get(key)) is not None:
            yield RowError(
                source_file=source_file,
                line_number=number,
                reason=f"card_linkage_code {employee.card_linkage_code!r} already used by {holder}",
            )
            continue
        seen_linkage[key] = employee.employee_code
        yield employee
