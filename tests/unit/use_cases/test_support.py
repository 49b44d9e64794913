"""The support desk's use cases on the in-memory fakes: one case per automatic source, subjects
checked against the payments, timers started with the case and stopped when it is resolved."""

from __future__ import annotations

from dataclasses import replace
from itertools import count

import pytest

from cardops.support import use_cases
from cardops.support.domain.cases import Case, CaseDraft, CaseStatus, Category, Subject
from tests.builders import NOW, captured_payment
from tests.fakes.support import FakeCases, FakeCaseWorkflows, FakePaymentReads, FakeReports

DESK = "arn:aws:iam::123456789012:user/desk"


def deps(reads: FakePaymentReads | None = None) -> use_cases.Deps:
    ids = count(1)
    return use_cases.Deps(
        cases=FakeCases(),
        workflows=FakeCaseWorkflows(),
        payments=reads or FakePaymentReads(),
        reports=FakeReports(),
        new_id=lambda: f"case-{next(ids)}",
    )


def draft(source: str | None = None, **subject: str) -> CaseDraft:
    return CaseDraft(
        category=Category.MISSING_REFUND,
        summary="the customer says the refund never arrived",
        subject=Subject.model_validate(subject or {"store_id": "store-1"}),
        source=source,
    )


def test_an_automatic_source_opens_one_case_however_often_it_calls() -> None:
    d = deps()
    first = use_cases.open_case(d, draft(source="refund-rejected:rf_1"), actor="hook", now=NOW)
    again = use_cases.open_case(d, draft(source="refund-rejected:rf_1"), actor="hook", now=NOW)
    assert again.case_id == first.case_id
    assert d.workflows.started == [first.case_id]  # type: ignore[attr-defined]


class CountedCases(FakeCases):
    """The fake store, counting the case reads a use case makes."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, case_id: str) -> Case | None:
        self.reads += 1
        return super().get(case_id)


def test_a_source_case_is_written_under_its_is_new_condition_without_a_read_first() -> None:
    cases = CountedCases()
    d = replace(deps(), cases=cases)
    first = use_cases.open_case(d, draft(source="refund-rejected:rf_2"), actor="hook", now=NOW)
    assert cases.reads == 0
    again = use_cases.open_case(d, draft(source="refund-rejected:rf_2"), actor="hook", now=NOW)
    assert again == first and cases.reads == 1  # refused by the condition, then read
    assert d.workflows.started == [first.case_id]  # type: ignore[attr-defined]


def test_a_payment_the_caller_holds_is_checked_without_reading_it() -> None:
    held = captured_payment("payjp", "ch_held", store_id="store-1").payment
    d = deps(FakePaymentReads())  # a read would find nothing: payment_not_found
    subject = {"store_id": "store-1", "provider": "payjp", "provider_payment_id": "ch_held"}
    case = use_cases.open_case(d, draft(**subject), actor="hook", now=NOW, payment=held)
    assert case.subject.provider_payment_id == "ch_held"
    with pytest.raises(use_cases.SubjectError) as other:
        use_cases.open_case(
            d, draft(**{**subject, "store_id": "store-2"}), actor="hook", now=NOW, payment=held
        )
    assert other.value.code == "payment_of_another_store"
    # a held payment that is not the subject's is no answer: the subject's payment is read
    with pytest.raises(use_cases.SubjectError) as missing:
        use_cases.open_case(
            d, draft(**{**subject, "provider_payment_id": "ch_9"}), actor="hook", now=NOW, payment=held
        )
    assert missing.value.code == "payment_not_found"


def test_a_case_about_a_payment_must_name_its_store() -> None:
    applied = captured_payment("payjp", "ch_1", store_id="store-1")
    reads = FakePaymentReads(payments={("payjp", "ch_1"): applied.payment})
    d = deps(reads)
    case = use_cases.open_case(
        d, draft(store_id="store-1", provider="payjp", provider_payment_id="ch_1"), actor=DESK, now=NOW
    )
    assert case.case_id == "case-1"
    with pytest.raises(use_cases.SubjectError) as other:
        use_cases.open_case(
            d, draft(store_id="store-2", provider="payjp", provider_payment_id="ch_1"), actor=DESK, now=NOW
        )
    assert other.value.code == "payment_of_another_store"
    with pytest.raises(use_cases.SubjectError) as missing:
        use_cases.open_case(
            d, draft(store_id="store-1", provider="payjp", provider_payment_id="ch_9"), actor=DESK, now=NOW
        )
    assert missing.value.code == "payment_not_found"
    assert list(d.cases.cases) == ["case-1"]  # type: ignore[attr-defined]


def test_resolving_a_case_records_who_and_stops_its_timers() -> None:
    d = deps()
    case = use_cases.open_case(d, draft(), actor=DESK, now=NOW)
    use_cases.act(d, case.case_id, "acknowledge", actor=DESK, now=NOW)
    resolved = use_cases.act(d, case.case_id, "resolve", actor=DESK, now=NOW, note="refund found")
    assert resolved.status is CaseStatus.RESOLVED
    assert d.workflows.stopped == [(case.case_id, "case resolved")]  # type: ignore[attr-defined]
    detail = use_cases.show(d, case.case_id, now=NOW)
    assert [e.to_status for e in detail.history] == [
        CaseStatus.OPEN,
        CaseStatus.ACKNOWLEDGED,
        CaseStatus.RESOLVED,
    ]
    assert {e.actor for e in detail.history} == {DESK}


def test_an_unknown_case_is_not_found() -> None:
    with pytest.raises(use_cases.CaseNotFoundError):
        use_cases.act(deps(), "case-404", "resolve", actor=DESK, now=NOW)
