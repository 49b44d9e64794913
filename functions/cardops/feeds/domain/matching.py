"""Matching a statement line to an employee (SPEC §7): linkage code + what the card company needs.

The card linkage code (カード連携用コード) always decides the candidate; the card company's format
says whether the employee code and the kana name must also agree. What carries no meaning is
normalized away (``normalize``); what the card company treats as different (small kana, romaji,
case) never matches silently: it becomes error data with a reason code, a hint in Japanese and
English, and — when it can be derived — the exact corrected employee-master value.

A tenant without a valid corporate number gets no line linked at all, so every line of such a
tenant carries that reason. Build one ``TenantMatcher`` per tenant and run; lookups are dicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, model_validator

from cardops.feeds.domain.corporate_number import corporate_number_problem
from cardops.feeds.domain.formats import FORMATS, StatementFormat, format_for
from cardops.feeds.domain.models import Employee, StatementLine
from cardops.feeds.domain.normalize import (
    contains_latin,
    display_form,
    enlarge_small_kana,
    normalize_code,
    normalize_kana_name,
    romaji_to_katakana,
)

ReasonCode = Literal[
    "unknown_linkage_code",
    "employee_code_mismatch",
    "name_small_kana",
    "name_romaji",
    "name_mismatch",
    "corporate_number_missing",
    "corporate_number_invalid",
]
REASON_CODES: tuple[ReasonCode, ...] = get_args(ReasonCode)

#: What an admin reads beside each reason: Japanese first, then English.
HINTS: Mapping[ReasonCode, str] = {
    "unknown_linkage_code": (
        "カード連携用コードが社員マスタに登録されていません / "
        "unknown linkage code: no employee master holds this card linkage code"
    ),
    "employee_code_mismatch": (
        "カード会社に登録された社員コードと社員マスタが異なります / "
        "employee code differs from the one registered at the card company"
    ),
    "name_small_kana": (
        "カード会社は大文字のカナで登録しています(「ッ」は「ツ」) / "
        "small kana registered as large: the card company registers ッ as ツ"
    ),
    "name_romaji": (
        "カナで入力すべき利用者名がローマ字で登録されています / romaji entered where kana is expected"
    ),
    "name_mismatch": (
        "利用者カナが社員マスタの氏名カナと一致しません / kana name differs from the employee master"
    ),
    "corporate_number_missing": (
        "法人番号が登録されていないため明細が連携されません / "
        "corporate number not registered: no card lines are linked"
    ),
    "corporate_number_invalid": (
        "法人番号が正しくありません(13桁・チェックデジット) / "
        "corporate number invalid (13 digits with a check digit): no card lines are linked"
    ),
}

MasterField = Literal["name_kana", "card_linkage_code", "card_company_employee_code"]


class ProposedFix(BaseModel):
    """The one employee-master change that makes the line match; an admin applies it in one step."""

    model_config = ConfigDict(frozen=True)

    employee_code: str
    field: MasterField
    value: str


class ComparedField(BaseModel):
    """One field as the card company has it beside the employee master's value."""

    model_config = ConfigDict(frozen=True)

    field: str
    card_value: str | None
    master_value: str | None


class MatchError(BaseModel):
    """Why a line is unmatched: admin-only error data (SPEC §7, §8 contract 5)."""

    model_config = ConfigDict(frozen=True)

    reason: ReasonCode
    hint: str
    proposed_fix: ProposedFix | None = None
    #: The employee the linkage code (or another field) points at, when there is one.
    employee_code: str | None = None
    compared: tuple[ComparedField, ...] = ()


class MatchResult(BaseModel):
    """Exactly one of: the matched employee, or the error that keeps the line unmatched."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    employee: Employee | None = None
    error: MatchError | None = None
    method: Literal["automatic", "manual"] = "automatic"

    @model_validator(mode="after")
    def _exactly_one(self) -> MatchResult:
        if (self.employee is None) == (self.error is None):
            raise ValueError("a match result holds either an employee or an error")
        return self

    @property
    def matched(self) -> bool:
        return self.employee is not None


class DuplicateLinkageCode(ValueError):
    """Two employees of one tenant share a card linkage code: no line could be matched safely."""


class LinkingBlocked(ValueError):
    """The tenant's corporate number is missing or invalid, so no line may be linked, even by hand."""

    def __init__(self, reason: ReasonCode) -> None:
        super().__init__(HINTS[reason])
        self.reason = reason


class UnknownEmployee(LookupError):
    """A hand assignment named an employee that is not in the tenant's master."""


class _Entry:
    """An employee with the normalized keys computed once, when the index is built."""

    __slots__ = ("code_key", "employee", "linkage_key", "name_is_latin", "name_key", "name_large")

    def __init__(self, employee: Employee) -> None:
        self.employee = employee
        self.linkage_key = normalize_code(employee.card_linkage_code)
        self.code_key = normalize_code(employee.code_at_card_company)
        self.name_key = normalize_kana_name(employee.name_kana)
        self.name_large = enlarge_small_kana(self.name_key)
        self.name_is_latin = contains_latin(self.name_key)


class EmployeeIndex:
    """A tenant's employee master indexed once by linkage code (and by code/name for fix proposals)."""

    def __init__(self, employees: Iterable[Employee]) -> None:
        self._by_linkage: dict[str, _Entry] = {}
        self._by_code: dict[str, list[_Entry]] = defaultdict(list)
        self._by_name: dict[str, list[_Entry]] = defaultdict(list)
        self._by_employee_code: dict[str, Employee] = {}
        for employee in employees:
            entry = _Entry(employee)
            if (other := self._by_linkage.get(entry.linkage_key)) is not None:
                raise DuplicateLinkageCode(
                    f"linkage code {employee.card_linkage_code!r} is held by employees "
                    f"{other.employee.employee_code} and {employee.employee_code}"
                )
            self._by_linkage[entry.linkage_key] = entry
            self._by_code[entry.code_key].append(entry)
            self._by_name[entry.name_large].append(entry)
            self._by_employee_code[employee.employee_code] = employee

    def __len__(self) -> int:
        return len(self._by_linkage)

    def entry_for_linkage(self, linkage_code: str) -> _Entry | None:
        return self._by_linkage.get(normalize_code(linkage_code))

    def entries_by_code(self, code_at_card_company: str) -> list[_Entry]:
        return self._by_code.get(normalize_code(code_at_card_company), [])

    def entries_by_name(self, name_kana: str) -> list[_Entry]:
        return self._by_name.get(enlarge_small_kana(normalize_kana_name(name_kana)), [])

    def by_linkage_code(self, linkage_code: str) -> Employee | None:
        entry = self.entry_for_linkage(linkage_code)
        return entry.employee if entry else None

    def by_employee_code(self, employee_code: str) -> Employee | None:
        return self._by_employee_code.get(employee_code)


def _error(
    line: StatementLine,
    reason: ReasonCode,
    compared: tuple[ComparedField, ...],
    *,
    employee_code: str | None = None,
    fix: ProposedFix | None = None,
    detail: str | None = None,
) -> MatchResult:
    hint = HINTS[reason] if detail is None else f"{HINTS[reason]} ({detail})"
    error = MatchError(
        reason=reason, hint=hint, proposed_fix=fix, employee_code=employee_code, compared=compared
    )
    return MatchResult(line_id=line.line_id, error=error)


class TenantMatcher:
    """Matches one tenant's lines; build it once per tenant and run (re-build after a master fix)."""

    def __init__(
        self,
        corporate_number: str | None,
        employees: Iterable[Employee],
        formats: Mapping[str, StatementFormat] = FORMATS,
    ) -> None:
        self.corporate_number_problem: ReasonCode | None = corporate_number_problem(corporate_number)
        self.corporate_number = corporate_number
        self.index = employees if isinstance(employees, EmployeeIndex) else EmployeeIndex(employees)
        self.formats = formats

    def match(self, line: StatementLine) -> MatchResult:
        fmt = format_for(line.card_company, self.formats)
        if self.corporate_number_problem is not None:
            blocked = (
                ComparedField(field="corporate_number", card_value=None, master_value=self.corporate_number),
            )
            return _error(line, self.corporate_number_problem, blocked)
        entry = self.index.entry_for_linkage(line.linkage_code)
        if entry is None:
            return self._unknown_linkage(line, fmt)
        if fmt.requires_employee_code:
            card_code = normalize_code(line.employee_code or "")
            if card_code != entry.code_key:
                fix = None
                if card_code:
                    fix = ProposedFix(
                        employee_code=entry.employee.employee_code,
                        field="card_company_employee_code",
                        value=card_code,
                    )
                detail = None if card_code else "the card company sent no employee code"
                return _error(
                    line,
                    "employee_code_mismatch",
                    self._compared(line, fmt, entry),
                    employee_code=entry.employee.employee_code,
                    fix=fix,
                    detail=detail,
                )
        if fmt.requires_kana_name:
            name_error = self._name_error(line, fmt, entry)
            if name_error is not None:
                return name_error
        return MatchResult(line_id=line.line_id, employee=entry.employee)

    def assign(self, line: StatementLine, employee_code: str) -> MatchResult:
        """An admin's hand assignment of an unmatched line; still refused without a corporate number."""
        if self.corporate_number_problem is not None:
            raise LinkingBlocked(self.corporate_number_problem)
        employee = self.index.by_employee_code(employee_code)
        if employee is None:
            raise UnknownEmployee(f"no employee {employee_code!r} in this tenant")
        return MatchResult(line_id=line.line_id, employee=employee, method="manual")

    @staticmethod
    def _compared(
        line: StatementLine, fmt: StatementFormat, entry: _Entry | None
    ) -> tuple[ComparedField, ...]:
        employee = entry.employee if entry else None
        # (master field, required by this format, the card company's value, the master's value)
        fields: tuple[tuple[MasterField, bool, str | None, str | None], ...] = (
            ("card_linkage_code", True, line.linkage_code, employee.card_linkage_code if employee else None),
            (
                "card_company_employee_code",
                fmt.requires_employee_code,
                line.employee_code,
                employee.code_at_card_company if employee else None,
            ),
            ("name_kana", fmt.requires_kana_name, line.kana_name, employee.name_kana if employee else None),
        )
        return tuple(
            ComparedField(field=name, card_value=card, master_value=master)
            for name, required, card, master in fields
            if required
        )

    def _unknown_linkage(self, line: StatementLine, fmt: StatementFormat) -> MatchResult:
        """Unknown code; if the other required fields point at exactly one employee, propose the code."""
        candidates: list[_Entry] | None = None
        if fmt.requires_employee_code and line.employee_code:
            candidates = self.index.entries_by_code(line.employee_code)
        if fmt.requires_kana_name and line.kana_name:
            by_name = self.index.entries_by_name(line.kana_name)
            candidates = by_name if candidates is None else [c for c in candidates if c in by_name]
        fix = None
        employee_code = None
        if candidates is not None and len(candidates) == 1 and line.linkage_code:
            employee_code = candidates[0].employee.employee_code
            fix = ProposedFix(employee_code=employee_code, field="card_linkage_code", value=line.linkage_code)
        return _error(
            line,
            "unknown_linkage_code",
            self._compared(line, fmt, candidates[0] if fix and candidates else None),
            employee_code=employee_code,
            fix=fix,
            detail=None if line.linkage_code else "the card company sent no linkage code",
        )

    @classmethod
    def _name_error(cls, line: StatementLine, fmt: StatementFormat, entry: _Entry) -> MatchResult | None:
        card_raw = line.kana_name or ""
        card_key = normalize_kana_name(card_raw)
        if card_key == entry.name_key:
            return None
        compared = cls._compared(line, fmt, entry)
        employee_code = entry.employee.employee_code
        card_large = enlarge_small_kana(card_key)
        card_value = display_form(card_raw)

        def fix() -> ProposedFix:
            return ProposedFix(employee_code=employee_code, field="name_kana", value=card_value)

        if card_key and entry.name_is_latin and not contains_latin(card_key):
            proposed = romaji_to_katakana(entry.employee.name_kana)
            derivable = proposed is not None and proposed == card_large
            return _error(
                line,
                "name_romaji",
                compared,
                employee_code=employee_code,
                fix=fix() if derivable else None,
                detail=None if derivable else "the romaji does not read as the card company's kana",
            )
        if card_key and entry.name_large == card_large:
            return _error(line, "name_small_kana", compared, employee_code=employee_code, fix=fix())
        detail: str | None
        if card_key and entry.name_key.upper() == card_key.upper():
            detail = "letter case differs; card companies register upper case"
            return _error(
                line, "name_mismatch", compared, employee_code=employee_code, fix=fix(), detail=detail
            )
        detail = None if card_key else "the card company sent no kana name"
        return _error(line, "name_mismatch", compared, employee_code=employee_code, detail=detail)


class Outcome(NamedTuple):
    """A match result without its line: what every line with the same matching fields gets."""

    employee: Employee | None
    error: MatchError | None

    @property
    def matched(self) -> bool:
        return self.employee is not None

    def result(self, line_id: str) -> MatchResult:
        return MatchResult(line_id=line_id, employee=self.employee, error=self.error)


#: A memo key: card company, linkage code, employee code, kana name as the line carries them
#: ("" where the line has none).
MatchKey = tuple[str, str, str, str]
#: Distinct keys a memo keeps before it starts over (a hostile file cannot grow it without bound).
MEMO_LIMIT = 65_536
_PROBE_DATE = date(2000, 1, 1)


class MatchMemo(dict[MatchKey, Outcome]):
    """``TenantMatcher.match`` once per card company + linkage code + employee code + kana name.

    The outcome of a line depends on those four fields only (the line identity is just copied into
    the result), so a file of 100k lines from 2,000 cards is matched about 2,000 times. A dict with
    ``__missing__`` so a whole column of keys is looked up with one C-level ``map``.
    """

    def __init__(self, matcher: TenantMatcher, limit: int = MEMO_LIMIT) -> None:
        super().__init__()
        self.matcher = matcher
        self.limit = limit

    def __missing__(self, key: MatchKey) -> Outcome:
        card_company, linkage_code, employee_code, kana_name = key
        probe = StatementLine(
            card_company=card_company,
            line_id="memo",
            usage_date=_PROBE_DATE,
            linkage_code=linkage_code,
            employee_code=employee_code or None,
            kana_name=kana_name or None,
            merchant="memo",
            amount=0,
            settlement="corporate",
            source_file="memo",
            line_number=1,
        )
        result = self.matcher.match(probe)
        if len(self) >= self.limit:
            self.clear()
        outcome = self[key] = Outcome(result.employee, result.error)
        return outcome

    def outcome(self, line: StatementLine) -> Outcome:
        """The memoized outcome of a parsed line (the strict path's lines go through here too)."""
        return self[(line.card_company, line.linkage_code, line.employee_code or "", line.kana_name or "")]


def match_lines(matcher: TenantMatcher, lines: Iterable[StatementLine]) -> list[MatchResult]:
    """Every line of a run through one tenant's matcher (the index is built once, outside)."""
    return [matcher.match(line) for line in lines]
