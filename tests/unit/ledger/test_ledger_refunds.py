"""Refunds and their corrections (SPEC §5, seed 001): one test per path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardops.ledger.domain.fees import STANDARD_PLAN, capture_entries
from cardops.ledger.domain.ledger import Channel, EntryKind, Ledger
from cardops.payments.domain.payments import (
    CanonicalEvent,
    EventKind,
    Payment,
    PaymentFacts,
    PaymentMetadata,
    PaymentStatus,
    apply_event,
    new_payment,
)
from cardops.payments.domain.refunds import (
    ALLOWED_TRANSITIONS,
    DebitMemoError,
    InvalidRefundTransitionError,
    PaymentNotRefundableError,
    ProviderCapabilities,
    Refund,
    RefundChange,
    RefundCommand,
    RefundExceedsCapturedError,
    RefundReason,
    RefundReversalNotSupportedError,
    RefundStatus,
    RefundTarget,
    cancel_refund,
    change_refund_amount,
    issue_debit_memo,
    mark_refund_rejected,
    mark_refund_succeeded,
    request_refund,
    reverse_submitted_refund,
    submit_refund,
)

NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
TARGET = RefundTarget(
    provider="payjp",
    provider_payment_id="ch_1",
    store_id="s1",
    channel=Channel.STANDARD,
    currency="JPY",
    captured_amount=10_000,
)


def _captured_ledger() -> Ledger:
    entries = capture_entries(
        store_id="s1",
        channel=Channel.STANDARD,
        currency="JPY",
        provider="payjp",
        provider_payment_id="ch_1",
        amount=10_000,
        plan=STANDARD_PLAN,
        captured_at=NOW,
    )
    return Ledger(store_id="s1", channel=Channel.STANDARD).post(entries).ledger


def _request(amount: int, key: str = "k1", existing: tuple[Refund, ...] = ()) -> RefundChange:
    cmd = RefundCommand(
        amount=amount, reason=RefundReason.CUSTOMER_REQUEST, idempotency_key=key, actor="finance"
    )
    return request_refund(TARGET, existing, cmd, STANDARD_PLAN, now=NOW)


def _requested(amount: int = 3_000) -> tuple[Refund, Ledger]:
    change = _request(amount)
    return change.refund, _captured_ledger().post(change.entries).ledger


def test_reasons_are_enumerated() -> None:
    assert {r.value for r in RefundReason} == {
        "customer_request",
        "duplicate",
        "fraudulent",
        "store_cancellation",
        "overcharge",
        "service_issue",
        "other",
    }
    with pytest.raises(ValueError):
        RefundCommand(amount=1, reason="because", idempotency_key="k", actor="finance")


def test_request_debits_the_ledger_and_keeps_the_fee() -> None:
    refund, ledger = _requested(3_000)
    assert refund.status is RefundStatus.REQUESTED
    assert ledger.balance == 10_000 - 470 - 3_000
    assert [e.kind for e in ledger.entries][-1] is EntryKind.REFUND


def test_request_is_idempotent_on_its_key() -> None:
    first = _request(3_000)
    again = _request(3_000, existing=(first.refund,))
    assert again.refund == first.refund
    assert again.changed == () and again.entries == ()


def test_refunds_never_exceed_the_captured_amount() -> None:
    first = _request(6_000).refund
    second = _request(4_000, key="k2", existing=(first,)).refund
    with pytest.raises(RefundExceedsCapturedError) as caught:
        _request(1, key="k3", existing=(first, second))
    assert caught.value.remaining == 0
    assert "remaining refundable 0" in str(caught.value)
    with pytest.raises(RefundExceedsCapturedError) as caught:
        _request(4_001, key="k3", existing=(first,))
    assert caught.value.remaining == 4_000


def test_canceled_rejected_and_reversed_refunds_free_the_amount() -> None:
    refund, ledger = _requested(10_000)
    canceled = cancel_refund(refund, ledger, now=NOW, actor="finance").refund
    assert _request(10_000, key="k2", existing=(canceled,)).refund.amount == 10_000


def test_only_allowed_transitions() -> None:
    refund, ledger = _requested()
    with pytest.raises(InvalidRefundTransitionError):
        mark_refund_succeeded(refund, now=NOW)  # requested → succeeded skips submission
    done = mark_refund_succeeded(submit_refund(refund, now=NOW).refund, now=NOW).refund
    with pytest.raises(InvalidRefundTransitionError):
        cancel_refund(done, ledger, now=NOW, actor="finance")
    assert ALLOWED_TRANSITIONS[RefundStatus.CANCELED] == frozenset()
    assert ALLOWED_TRANSITIONS[RefundStatus.REVERSED] == frozenset()
    assert ALLOWED_TRANSITIONS[RefundStatus.REJECTED] == frozenset()


def test_duplicate_provider_events_change_nothing() -> None:
    refund, _ = _requested()
    submitted = submit_refund(refund, now=NOW).refund
    succeeded = mark_refund_succeeded(submitted, now=NOW).refund
    again = mark_refund_succeeded(succeeded, now=NOW + timedelta(minutes=1))
    assert again.changed == () and again.refund == succeeded
    assert [t.to_status for t in succeeded.history] == [
        RefundStatus.REQUESTED,
        RefundStatus.SUBMITTED,
        RefundStatus.SUCCEEDED,
    ]
    assert succeeded.version == 3


def test_refund_to_an_expired_card_is_still_submitted() -> None:
    refund, _ = _requested()
    submitted = submit_refund(refund, now=NOW, card_expired=True, provider_refund_id="re_1").refund
    assert submitted.status is RefundStatus.SUBMITTED
    assert submitted.card_expired
    assert "expired" in submitted.history[-1].note


def test_rejection_reverses_the_refund_and_alerts_finance() -> None:
    refund, ledger = _requested(3_000)
    submitted = submit_refund(refund, now=NOW, card_expired=True).refund
    succeeded = mark_refund_succeeded(submitted, now=NOW).refund
    # the card company returns it after the provider accepted it (card not reissued)
    change = mark_refund_rejected(succeeded, ledger, now=NOW + timedelta(days=3), detail="card closed")
    assert change.refund.status is RefundStatus.REJECTED
    after = ledger.post(change.entries).ledger
    assert after.balance == _captured_ledger().balance
    assert all(e.kind is EntryKind.REVERSAL for e in change.entries)
    (alert,) = change.alerts
    assert alert.refund_id == refund.refund_id and alert.amount == 3_000 and alert.card_expired
    assert change.refund.to_fact().state == "failed"
    # a duplicate rejection event neither reverses again nor alerts again
    retry = mark_refund_rejected(change.refund, after, now=NOW + timedelta(days=4))
    assert retry.entries == () and retry.alerts == ()


def test_rejection_puts_the_payment_back() -> None:
    authorized = _event("e0", PaymentFacts(currency="JPY", authorized_amount=10_000))
    payment = _apply(new_payment(authorized), authorized)
    payment = _apply(payment, _event("e1", PaymentFacts(captured_amount=10_000)))
    refund, ledger = _requested(10_000)
    target = RefundTarget.from_payment(payment)
    assert target == TARGET
    submitted = submit_refund(refund, now=NOW).refund
    payment = _apply(payment, _event("e2", PaymentFacts(refunds={refund.refund_id: submitted.to_fact()})))
    assert payment.status is PaymentStatus.REFUNDED
    with pytest.raises(PaymentNotRefundableError):
        RefundTarget.from_payment(payment)
    rejected = mark_refund_rejected(submitted, ledger, now=NOW).refund
    payment = _apply(payment, _event("e3", PaymentFacts(refunds={refund.refund_id: rejected.to_fact()})))
    assert payment.status is PaymentStatus.CAPTURED
    assert payment.facts.refunded_amount == 0


def test_cancel_before_submission_reverses_the_ledger() -> None:
    refund, ledger = _requested(3_000)
    change = cancel_refund(refund, ledger, now=NOW, actor="finance")
    assert change.refund.status is RefundStatus.CANCELED
    after = ledger.post(change.entries).ledger
    assert after.balance == _captured_ledger().balance
    assert len(after.entries) == len(ledger.entries) + 1  # history kept: nothing edited or removed
    assert cancel_refund(change.refund, after, now=NOW, actor="finance").entries == ()


def test_cancel_after_submission_is_refused() -> None:
    refund, ledger = _requested()
    submitted = submit_refund(refund, now=NOW).refund
    with pytest.raises(InvalidRefundTransitionError):
        cancel_refund(submitted, ledger, now=NOW, actor="finance")


def test_change_amount_reverses_the_old_refund_and_creates_a_new_one() -> None:
    refund, ledger = _requested(3_000)
    change = change_refund_amount(
        refund, TARGET, (refund,), 2_500, ledger, STANDARD_PLAN, now=NOW, actor="finance"
    )
    old, new = change.changed
    assert old.refund_id == refund.refund_id and old.status is RefundStatus.REVERSED
    assert old.replaced_by == new.refund_id and new.replaces == refund.refund_id
    assert change.refund == new and new.status is RefundStatus.REQUESTED and new.amount == 2_500
    after = ledger.post(change.entries).ledger
    assert after.balance == 10_000 - 470 - 2_500
    # the new amount is checked against the captured amount without the old refund
    with pytest.raises(RefundExceedsCapturedError):
        change_refund_amount(
            refund, TARGET, (refund,), 10_001, ledger, STANDARD_PLAN, now=NOW, actor="finance"
        )
    # retried correction returns the refund already created
    retry = change_refund_amount(
        old, TARGET, (old, new), 2_500, after, STANDARD_PLAN, now=NOW, actor="finance"
    )
    assert retry.refund == new and retry.entries == ()


def test_change_amount_after_submission_is_refused() -> None:
    refund, ledger = _requested()
    submitted = submit_refund(refund, now=NOW).refund
    with pytest.raises(InvalidRefundTransitionError):
        change_refund_amount(
            submitted, TARGET, (submitted,), 1_000, ledger, STANDARD_PLAN, now=NOW, actor="finance"
        )


def test_debit_memo_after_success_claims_from_the_customer() -> None:
    refund, _ = _requested(3_000)
    succeeded = mark_refund_succeeded(submit_refund(refund, now=NOW).refund, now=NOW).refund
    change = issue_debit_memo(succeeded, now=NOW, actor="finance", amount=1_000)
    assert change.debit_memo is not None
    assert change.debit_memo.amount == 1_000 and change.debit_memo.refund_id == refund.refund_id
    assert change.refund == succeeded and change.entries == () and change.changed == ()
    with pytest.raises(DebitMemoError):
        issue_debit_memo(succeeded, now=NOW, actor="finance", amount=3_001)
    with pytest.raises(DebitMemoError):
        issue_debit_memo(refund, now=NOW, actor="finance")


def test_submitted_refund_is_reversed_where_the_provider_allows() -> None:
    refund, ledger = _requested(3_000)
    submitted = submit_refund(refund, now=NOW).refund
    change = reverse_submitted_refund(
        submitted, ledger, ProviderCapabilities(refund_reversal=True), now=NOW, actor="finance"
    )
    assert change.refund.status is RefundStatus.REVERSED
    assert ledger.post(change.entries).ledger.balance == _captured_ledger().balance
    assert change.refund.to_fact().state == "canceled"


def test_submitted_refund_reversal_refused_where_the_provider_cannot() -> None:
    refund, ledger = _requested(3_000)
    submitted = submit_refund(refund, now=NOW).refund
    with pytest.raises(RefundReversalNotSupportedError):
        reverse_submitted_refund(submitted, ledger, ProviderCapabilities(), now=NOW, actor="finance")
    succeeded = mark_refund_succeeded(submitted, now=NOW).refund
    with pytest.raises(InvalidRefundTransitionError):
        reverse_submitted_refund(
            succeeded, ledger, ProviderCapabilities(refund_reversal=True), now=NOW, actor="finance"
        )


def test_fee_is_returned_with_the_refund_when_configured() -> None:
    plan = STANDARD_PLAN.model_copy(update={"refund_returns_fee": True})
    cmd = RefundCommand(amount=1_001, reason=RefundReason.OVERCHARGE, idempotency_key="k", actor="finance")
    change = request_refund(TARGET, (), cmd, plan, now=NOW)
    ledger = _captured_ledger().post(change.entries).ledger
    assert ledger.balance == 10_000 - 470 - 1_001 + 47
    canceled = cancel_refund(change.refund, ledger, now=NOW, actor="finance")
    assert ledger.post(canceled.entries).ledger.balance == 10_000 - 470


def test_correction_needs_the_refunds_ledger() -> None:
    refund, _ = _requested()
    with pytest.raises(ValueError, match="no entries"):
        cancel_refund(refund, _captured_ledger(), now=NOW, actor="finance")


def _event(event_id: str, facts: PaymentFacts) -> CanonicalEvent:
    return CanonicalEvent(
        provider="payjp",
        provider_payment_id="ch_1",
        event_id=event_id,
        kind=EventKind.SNAPSHOT,
        occurred_at=NOW,
        facts=facts,
        metadata=PaymentMetadata(store_id="s1"),
    )


def _apply(payment: Payment, event: CanonicalEvent) -> Payment:
    applied = apply_event(payment, event, now=NOW)
    assert applied is not None
    return applied.payment
