"""The fakes of ``tests/fakes`` keep their real adapters' contract: the same checks run on the fake
and on the DynamoDB adapter (against moto), so a unit test on a fake cannot pass where the real
store would refuse (the refund ceiling, versions, entries posted once, all of a write or none)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from cardops.feeds.domain.models import Employee, StatementLine
from cardops.feeds.domain.settlement import LineRecord
from cardops.feeds.store import FeedStore, LinkageCodeTaken
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.dynamodb import VersionConflict
from cardops.ledger.domain.ledger import AdjustmentReason, Cause, CauseKind, Channel, EntryKind, make_entry
from cardops.ledger.domain.statement import KeyRange, Order, PageQuery, time_key
from cardops.ledger.store import CeilingExceeded, DuplicateEntry, LedgerStore, RefundStore, ledger_pk
from cardops.ledger.use_cases import Ledgers, RefundBook
from cardops.payments.domain.refunds import RefundStatus, cancel_refund, submit_refund
from cardops.payments.domain.repayment_requests import (
    AuditEntry,
    RepaymentStatus,
)
from cardops.payments.store.claims import OutcomeClaims
from cardops.payments.store.evidence import EvidenceStore
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.store.repayment import AlreadyExists, RepaymentStore, StatusConflict
from cardops.payments.use_cases.refunds import RefundBook as RefundBookPort
from tests.builders import EVENTS, FINANCE, NOW, captured_payment, refund_request, repayment_record
from tests.fakes.feeds import FakeFeedStore
from tests.fakes.ledger import FakeLedgers, FakeRefundBook
from tests.fakes.payments import FakeClaims, FakePayments
from tests.fakes.repayment import FakeEvidence, FakeRepaymentRequests

PAYMENT = captured_payment("sandbox", "pay_contract", store_id="store-contract", amount=10_000).payment


@pytest.fixture(params=["fake", "moto"])
def make(request: pytest.FixtureRequest) -> Callable[[], tuple[Ledgers, RefundBookPort]]:
    """Both sides of the contract: the ledgers, and the refund book writing into them."""
    if request.param == "fake":

        def fakes() -> tuple[Ledgers, RefundBookPort]:
            ledgers = FakeLedgers()
            return ledgers, FakeRefundBook(ledgers)

        return fakes
    request.getfixturevalue("provisioned")
    return lambda: (LedgerStore(), RefundBook(RefundStore(), LedgerStore()))


def balance(ledgers: Ledgers) -> int:
    return ledgers.load("store-contract", Channel.STANDARD, "JPY").ledger.balance


def test_a_refund_takes_the_ceiling_down_and_debits_the_ledger_in_one_write(make: Any) -> None:
    ledgers, book = make()
    first = refund_request(PAYMENT, 3000)
    book.record_request(first.refund, first.entries, captured=10_000)
    assert book.remaining("sandbox", "pay_contract") == 7000
    assert [r.refund_id for r in book.of_payment("sandbox", "pay_contract")] == [first.refund.refund_id]
    assert balance(ledgers) == -3000
    assert [r.refund_id for r in book.requested_before(NOW.replace(year=2030))] == [first.refund.refund_id]

    # decided concurrently with the first (neither saw the other): the ceiling is what refuses it
    too_much = refund_request(PAYMENT, 8000, key="k2")
    with pytest.raises(CeilingExceeded) as refused:
        book.record_request(too_much.refund, too_much.entries, captured=10_000)
    assert refused.value.remaining == 7000
    assert len(book.of_payment("sandbox", "pay_contract")) == 1  # nothing of the refused write
    assert balance(ledgers) == -3000

    with pytest.raises(VersionConflict):  # the same refund again
        book.record_request(first.refund, first.entries, captured=10_000)


def test_a_first_refund_beyond_the_capture_leaves_no_ceiling(make: Any) -> None:
    _, book = make()
    bigger = captured_payment("sandbox", "pay_contract", store_id="store-contract", amount=20_000).payment
    change = refund_request(bigger, 10_001)
    with pytest.raises(CeilingExceeded) as refused:
        book.record_request(change.refund, change.entries, captured=10_000)
    assert refused.value.remaining is None
    assert book.remaining("sandbox", "pay_contract") is None


def test_a_change_is_conditioned_on_the_version_read_and_gives_the_ceiling_back(make: Any) -> None:
    ledgers, book = make()
    first = refund_request(PAYMENT, 4000)
    book.record_request(first.refund, first.entries, captured=10_000)
    ledger = book.ledger("store-contract", Channel.STANDARD, "JPY", cause=first.refund.cause)
    canceled = cancel_refund(first.refund, ledger, now=NOW, actor=FINANCE)
    book.record_change(first.refund, canceled.refund, canceled.entries, canceled.alerts, release=4000)
    assert book.remaining("sandbox", "pay_contract") == 10_000
    assert balance(ledgers) == 0
    assert book.get("sandbox", "pay_contract", first.refund.refund_id).status is RefundStatus.CANCELED

    submitted = submit_refund(first.refund, now=NOW)  # decided from the stale version read before
    with pytest.raises(VersionConflict):
        book.record_change(first.refund, submitted.refund, submitted.entries, submitted.alerts)


def test_provider_refunds_are_conditioned_on_the_level_read(make: Any) -> None:
    _, book = make()
    change = refund_request(PAYMENT, 1000, key="provider-1")
    book.record_provider_refund(change.refund, change.entries, (), captured=10_000, level_read=0)
    assert book.remaining("sandbox", "pay_contract") == 9000
    again = refund_request(PAYMENT, 500, key="provider-2")
    with pytest.raises(VersionConflict):  # read before the first was recorded
        book.record_provider_refund(again.refund, again.entries, (), captured=10_000, level_read=0)
    book.record_provider_refund(again.refund, again.entries, (), captured=10_000, level_read=1000)
    assert book.remaining("sandbox", "pay_contract") == 8500


def test_entries_are_posted_once_and_all_or_nothing(make: Any) -> None:
    ledgers, _ = make()
    sale = captured_payment("sandbox", "pay_ledger", store_id="store-contract", amount=10_000).payment
    entries = refund_request(sale, 2000).entries + refund_request(sale, 1000, key="k2").entries
    ledgers.post(entries[:1])
    with pytest.raises(DuplicateEntry):
        ledgers.post(entries)  # one of them is there: none of the others is posted either
    assert balance(ledgers) == -2000
    assert ledgers.post_idempotent(entries) == tuple(entries[1:])
    assert ledgers.post_idempotent(entries) == ()
    assert ledgers.get_entries(entries) == tuple(sorted(entries, key=lambda e: (e.created_at, e.entry_id)))
    assert ledgers.ledgers_of("store-contract") == [(Channel.STANDARD, "JPY")]
    assert {e.kind for e in entries} == {EntryKind.REFUND}

    pk = ledger_pk("store-contract", Channel.STANDARD, "JPY")
    third = refund_request(sale, 500, key="k3").entries
    with pytest.raises(VersionConflict):  # a decision taken from a balance that has moved since
        ledgers.post(third, expected_counts={pk: 1})
    ledgers.post(third, expected_counts={pk: 2})
    assert balance(ledgers) == -3500


def test_entries_page_in_time_order_within_the_dates_after_the_key(make: Any) -> None:
    ledgers, _ = make()
    entries = [
        make_entry(
            store_id="store-contract",
            channel=Channel.STANDARD,
            currency="JPY",
            kind=EntryKind.ADJUSTMENT,
            amount=100 + n,
            cause=Cause(kind=CauseKind.ADJUSTMENT, id=f"adj-{n}"),
            reason=AdjustmentReason.OTHER,
            now=NOW + timedelta(hours=20 * (n % 5), minutes=n),  # over 5 days, posted out of time order
        )
        for n in range(9)
    ]
    ledgers.post(entries)
    in_time = sorted(entries, key=time_key)
    keys = KeyRange.of(tokyo_date(NOW) + timedelta(days=1), tokyo_date(NOW) + timedelta(days=2))
    window = [e for e in in_time if time_key(e) in keys]
    assert 2 < len(window) < len(entries)  # the dates leave some out
    for order in Order:
        expected = window if order is Order.OLDEST_FIRST else window[::-1]
        seen: list[Any] = []
        after, more = None, True
        while more:
            page, more = ledgers.entries_page(
                "store-contract", Channel.STANDARD, "JPY", PageQuery(keys, after, 2, order)
            )
            seen.extend(page)
            after = time_key(page[-1]) if page else None
        assert seen == expected, order


@pytest.fixture(params=["fake", "moto"])
def payment_ports(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """The payment repository and the outcome claims, fake or real."""
    if request.param == "fake":
        return FakePayments(), FakeClaims()
    request.getfixturevalue("provisioned")
    return PaymentRepository(), OutcomeClaims()


def test_a_payment_is_saved_only_over_the_version_read(payment_ports: Any) -> None:
    payments, _ = payment_ports
    applied = captured_payment("sandbox", "pay_saved", store_id="store-contract")
    payments.save(applied, expected_version=0)
    assert payments.get("sandbox", "pay_saved") == applied.payment
    assert payments.last_history("sandbox", "pay_saved") == applied.history
    with pytest.raises(VersionConflict):
        payments.save(applied, expected_version=0)  # someone wrote it first
    assert payments.get("sandbox", "pay_unknown") is None


def test_the_first_outcome_claim_wins_and_only_its_holder_releases_it(payment_ports: Any) -> None:
    _, claims = payment_ports
    first = claims.claim("sandbox", "pay_claim", "capture", now=NOW)
    assert claims.claim("sandbox", "pay_claim", "expire", now=NOW) == first
    claims.release("sandbox", "pay_claim", "expire")  # not the holder: nothing happens
    assert claims.claim("sandbox", "pay_claim", "expire", now=NOW).outcome == "capture"
    later = NOW.replace(hour=5)
    assert claims.take_over("sandbox", "pay_claim", first, "expire", now=later) is True
    assert (
        claims.take_over("sandbox", "pay_claim", first, "expire", now=later) is False
    )  # no longer that claim
    claims.release("sandbox", "pay_claim", "expire")
    assert claims.claim("sandbox", "pay_claim", "capture", now=later).outcome == "capture"


@pytest.fixture(params=["fake", "moto"])
def feed_store(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeFeedStore()
    request.getfixturevalue("provisioned")
    return FeedStore()


def test_a_linkage_code_is_held_by_one_employee_and_freed_when_it_changes(feed_store: Any) -> None:
    first = Employee(employee_code="E1", name_kana="ヤマダ", card_linkage_code="LK1")
    feed_store.put_employee("t1", first)
    with pytest.raises(LinkageCodeTaken) as taken:
        feed_store.put_employee(
            "t1", Employee(employee_code="E2", name_kana="スズキ", card_linkage_code="ＬＫ1")
        )
    assert taken.value.holder == "E1"  # the width-folded code is the same code
    feed_store.put_employee("t1", first.model_copy(update={"card_linkage_code": "LK9"}))
    feed_store.put_employee("t1", Employee(employee_code="E2", name_kana="スズキ", card_linkage_code="LK1"))
    assert [e.employee_code for e in feed_store.employees("t1")] == ["E1", "E2"]


def test_a_line_is_stored_once_and_replaced_only_over_the_version_read(feed_store: Any) -> None:
    line = StatementLine(
        card_company="generic", line_id="generic:1", usage_date=date(2026, 5, 7), linkage_code="LK1",
        merchant="タクシー", amount=1200, settlement="corporate", source_file="f.csv", line_number=2,
    )  # fmt: skip
    record = LineRecord(line=line)
    assert feed_store.add_lines("t1", [record]) == [True]
    assert feed_store.add_lines("t1", [record]) == [False]
    stored = feed_store.get_line("t1", "generic:1")
    assert [s.record.line.line_id for s in feed_store.error_lines("t1")] == ["generic:1"]
    saved = feed_store.save_line(
        stored.model_copy(update={"record": record.model_copy(update={"employee_code": "E1"})})
    )
    assert saved.version == stored.version + 1
    assert [s.version for s in feed_store.employee_lines("t1", "E1")] == [saved.version]
    assert [s.record.line.line_id for s in feed_store.lines_on("t1", date(2026, 5, 7))] == ["generic:1"]
    with pytest.raises(VersionConflict):
        feed_store.save_line(stored)  # the version read before the save


@pytest.fixture(params=["fake", "moto"])
def repayment_ports(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """The re-payment requests and the evidence documents, fake or real."""
    if request.param == "fake":
        return FakeRepaymentRequests(), FakeEvidence()
    request.getfixturevalue("provisioned")
    return RepaymentStore(), EvidenceStore()


def test_a_repayment_request_is_created_once_and_decided_only_from_the_awaited_status(
    repayment_ports: Any,
) -> None:
    requests, _ = repayment_ports
    first = repayment_record("rq_contract_1", created_at=NOW)
    requests.create(first)
    with pytest.raises(AlreadyExists):
        requests.create(first.model_copy(update={"fingerprint": "0" * 64}))
    assert requests.get("rq_contract_1") == first
    with pytest.raises(StatusConflict):  # nothing to save over
        requests.save(repayment_record("rq_contract_none", created_at=NOW))

    requests.set_task_token("rq_contract_1", "tok")
    waiting = first.model_copy(update={"status": RepaymentStatus.AWAITING_DECISION})
    requests.save(waiting)
    assert requests.get_with_token("rq_contract_1") == (waiting, "tok")  # a save keeps the token
    approved = waiting.model_copy(update={"status": RepaymentStatus.APPROVED})
    requests.save(approved, expected=(RepaymentStatus.AWAITING_DECISION,))
    with pytest.raises(StatusConflict):  # decided concurrently
        requests.save(approved, expected=(RepaymentStatus.AWAITING_DECISION,))
    assert requests.get("rq_contract_1") == approved
    requests.set_task_token("rq_contract_1", None)
    assert requests.get_with_token("rq_contract_1") == (approved, None)
    assert requests.get_with_token("rq_contract_none") is None

    requests.create(repayment_record("rq_contract_2", created_at=NOW.replace(hour=5)))
    assert [r.request_id for r in requests.list(1)] == ["rq_contract_2"]  # newest first
    assert [r.request_id for r in requests.list(5)] == ["rq_contract_2", "rq_contract_1"]
    entry = AuditEntry(at=NOW, step="start", result="started", actor="contract")
    requests.audit("rq_contract_1", entry)
    assert requests.audit_trail("rq_contract_1") == [entry]
    assert requests.audit_trail("rq_contract_2") == []


def test_an_evidence_document_keeps_its_checksum_and_is_read_only_within_the_limit(
    repayment_ports: Any,
) -> None:
    _, evidence = repayment_ports
    content = (EVENTS / "repayment" / "consent.eml").read_bytes()
    key = "evidence/store_042/rq_contract/consent.eml"
    declared = evidence.put(key, content, "eml")
    assert (declared.key, declared.size, declared.content_type) == (key, len(content), "message/rfc822")
    stored = evidence.get(key, max_bytes=len(content))
    assert stored is not None
    assert (stored.content, stored.size, stored.sha256) == (content, len(content), declared.sha256)
    too_large = evidence.get(key, max_bytes=len(content) - 1)
    assert too_large is not None
    assert (too_large.content, too_large.size, too_large.sha256) == (None, len(content), declared.sha256)
    assert evidence.get("evidence/store_042/rq_none/consent.eml", max_bytes=len(content)) is None
