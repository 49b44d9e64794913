"""The support desk's use cases on the in-memory fakes: one case per automatic source, subjects
checked against the payments, timers started with the case and stopped when it is resolved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from itertools import count

import pytest

from cardops.support import use_cases
from cardops.support.domain.cases import Case, CaseDraft, CaseError, CaseStatus, Category, Subject
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


def _auto_refund_failed(d: use_cases.Deps, payment_id: str, *, minutes: int = 0) -> str:
    applied = captured_payment("payjp", payment_id, store_id="store-1")
    d.payments.payments[("payjp", payment_id)] = applied.payment  # type: ignore[attr-defined]
    failed = CaseDraft(
        category=Category.AUTO_REFUND_FAILED,
        summary=f"automatic refund of payjp/{payment_id} failed",
        channel="automatic",
        subject=Subject(store_id="store-1", provider="payjp", provider_payment_id=payment_id),
        source=f"auto-refund-failed:payjp:{payment_id}",
    )
    return use_cases.open_case(d, failed, actor="hook", now=NOW + timedelta(minutes=minutes)).case_id


def test_the_operator_queue_holds_open_failed_auto_refunds_and_a_retry_resolves_when_nothing_is_held() -> (
    None
):
    d = deps()
    use_cases.open_case(d, draft(), actor=DESK, now=NOW)  # not an automatic refund: not in the queue
    later = _auto_refund_failed(d, "ch_2", minutes=5)
    stuck = _auto_refund_failed(d, "ch_1")
    assert [c.case_id for c in use_cases.operator_queue(d)] == [stuck, later]

    retried: list[tuple[str, str]] = []

    def retry(outcome: str) -> Callable[[str, str], str]:
        def run(provider: str, payment_id: str) -> str:
            retried.append((provider, payment_id))
            return outcome

        return run

    # the deadline not passed yet: nothing done, the case stays open
    outcome, case = use_cases.retry_auto_refund(d, stuck, retry("not_due"), actor=DESK, now=NOW)
    assert outcome == "not_due" and case.status is CaseStatus.OPEN
    outcome, case = use_cases.retry_auto_refund(d, stuck, retry("expired_refunded"), actor=DESK, now=NOW)
    assert case.status is CaseStatus.RESOLVED and case.resolved_by == case.acknowledged_by == DESK
    assert case.resolution == "automatic refund retried: expired_refunded"
    assert retried == [("payjp", "ch_1"), ("payjp", "ch_1")]
    assert [c.case_id for c in use_cases.operator_queue(d)] == [later]
    with pytest.raises(CaseError):  # resolved: nothing to retry
        use_cases.retry_auto_refund(d, stuck, retry("expired_refunded"), actor=DESK, now=NOW)
    other = use_cases.open_case(d, draft(), actor=DESK, now=NOW)
    with pytest.raises(CaseError):  # not an automatic refund
        use_cases.retry_auto_refund(d, other.case_id, retry("expired_refunded"), actor=DESK, now=NOW)
    assert len(retried) == 2


def test_settling_acknowledges_when_needed_and_resolves_with_the_note() -> None:
    d = deps()
    fresh, acked = _auto_refund_failed(d, "ch_1"), _auto_refund_failed(d, "ch_2")
    use_cases.act(d, acked, "acknowledge", actor="someone-else", now=NOW)
    for case_id in (fresh, acked):
        settled = use_cases.settle(d, case_id, actor=DESK, now=NOW, resolution="released by hand")
        assert settled.status is CaseStatus.RESOLVED and settled.resolution == "released by hand"
    assert use_cases.show(d, fresh, now=NOW).case.acknowledged_by == DESK
    assert use_cases.show(d, acked, now=NOW).case.acknowledged_by == "someone-else"
    assert use_cases.show(d, fresh, now=NOW).history[-1].note == "released by hand"
    with pytest.raises(CaseError):
        use_cases.settle(d, fresh, actor=DESK, now=NOW, resolution="again")
