from __future__ import annotations

from datetime import date

import pytest

from cardops.feeds.domain.models import Settlement, StatementLine
from cardops.feeds.domain.settlement import (
    CorporateLineNotExcludable,
    LineAlreadyUsed,
    LineExcluded,
    LineNotMatched,
    LineRecord,
    PersonalLineNotLinkable,
    link_to_submitted_report,
    mark_excluded,
    select_for_claim,
)


def record(settlement: Settlement, **state: object) -> LineRecord:
    line = StatementLine(
        card_company="generic",
        line_id="generic:1",
        usage_date=date(2026, 5, 7),
        linkage_code="LK1",
        merchant="店",
        amount=1000,
        settlement=settlement,
        source_file="t.csv",
        line_number=2,
    )
    return LineRecord.model_validate({"line": line, "employee_code": "E1", **state})


def test_corporate_line_can_be_linked_later_by_an_admin() -> None:
    linked = link_to_submitted_report(record("corporate"), "E1", "R-1")
    assert linked.report_id == "R-1" and not linked.selectable
    with pytest.raises(LineAlreadyUsed):
        link_to_submitted_report(linked, "E1", "R-2")


def test_personal_line_cannot_be_linked_later() -> None:
    with pytest.raises(PersonalLineNotLinkable) as raised:
        link_to_submitted_report(record("personal"), "E1", "R-1")
    assert raised.value.code == "personal_line_not_linkable"


def test_personal_line_is_excluded_by_its_employee() -> None:
    excluded = mark_excluded(record("personal"), "E1")
    assert excluded.excluded and not excluded.selectable
    with pytest.raises(LineExcluded):
        select_for_claim(excluded, "E1", "R-1")
    with pytest.raises(LineNotMatched):
        mark_excluded(record("personal"), "E2")


def test_corporate_line_cannot_be_excluded() -> None:
    with pytest.raises(CorporateLineNotExcludable):
        mark_excluded(record("corporate"), "E1")


@pytest.mark.parametrize("settlement", ["corporate", "personal"])
def test_employee_selects_own_matched_line(settlement: Settlement) -> None:
    assert select_for_claim(record(settlement), "E1", "R-1").report_id == "R-1"
    with pytest.raises(LineNotMatched):
        select_for_claim(record(settlement, employee_code=None), "E1", "R-1")
