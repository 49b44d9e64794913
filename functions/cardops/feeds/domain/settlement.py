"""What may happen to a matched card line, by settlement type (SPEC §7).

Corporate-settled cards (法人決済): the company pays, so an admin may link a line to an expense
report that was submitted without it. Personal-settled cards (個人決済): there is no later linking;
the employee marks a leftover line as excluded (対象外) instead. Every refusal is a named domain
error so the API can map it to a clear answer.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cardops.feeds.domain.matching import MatchError
from cardops.feeds.domain.models import StatementLine


class LineRecord(BaseModel):
    """A stored line with its state: who it belongs to, or why not, and whether it is used up."""

    model_config = ConfigDict(frozen=True)

    line: StatementLine
    #: The matched (or hand-assigned) employee; None while the line is error data.
    employee_code: str | None = None
    error: MatchError | None = None
    #: The expense report the line is used in.
    report_id: str | None = None
    excluded: bool = False

    @property
    def matched(self) -> bool:
        return self.employee_code is not None

    @property
    def selectable(self) -> bool:
        return self.matched and self.report_id is None and not self.excluded


class LineRuleError(ValueError):
    """A use of a card line that the settlement rules refuse; ``code`` names the rule."""

    code = "line_rule"


class LineNotMatched(LineRuleError):
    """The line is error data (or another employee's): fix the master or assign it first."""

    code = "line_not_matched"


class LineAlreadyUsed(LineRuleError):
    code = "line_already_used"


class LineExcluded(LineRuleError):
    code = "line_excluded"


class PersonalLineNotLinkable(LineRuleError):
    """個人決済 lines cannot be linked to a report afterwards; the employee excludes them instead."""

    code = "personal_line_not_linkable"


class CorporateLineNotExcludable(LineRuleError):
    """法人決済 lines are the company's money: they are linked to a report, never excluded."""

    code = "corporate_line_not_excludable"


def _owned_and_open(record: LineRecord, employee_code: str) -> None:
    if record.employee_code != employee_code:
        raise LineNotMatched(f"line {record.line.line_id} is not matched to employee {employee_code}")
    if record.report_id is not None:
        raise LineAlreadyUsed(f"line {record.line.line_id} is already used in report {record.report_id}")
    if record.excluded:
        raise LineExcluded(f"line {record.line.line_id} is marked excluded (対象外)")


def select_for_claim(record: LineRecord, employee_code: str, report_id: str) -> LineRecord:
    """The employee picks their matched line in an expense claim (any settlement type)."""
    _owned_and_open(record, employee_code)
    return record.model_copy(update={"report_id": report_id})


def link_to_submitted_report(record: LineRecord, report_employee_code: str, report_id: str) -> LineRecord:
    """An admin links a corporate-settled line to a report that was submitted without it."""
    if record.line.settlement == "personal":
        raise PersonalLineNotLinkable(
            f"line {record.line.line_id} is personal-settled (個人決済): it cannot be linked later; "
            "the employee marks it excluded (対象外)"
        )
    _owned_and_open(record, report_employee_code)
    return record.model_copy(update={"report_id": report_id})


def mark_excluded(record: LineRecord, employee_code: str) -> LineRecord:
    """The employee marks a leftover personal-settled line as excluded (対象外)."""
    if record.line.settlement == "corporate":
        raise CorporateLineNotExcludable(
            f"line {record.line.line_id} is corporate-settled (法人決済): "
            "an admin links it to a report instead"
        )
    _owned_and_open(record, employee_code)
    return record.model_copy(update={"excluded": True})
