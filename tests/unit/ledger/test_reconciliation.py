"""The pure rules of reconciliation and of provider-side refunds (issue 11 items 2, 3)."""

from __future__ import annotations

from datetime import UTC, datetime

from cardops.ledger.domain.fees import STANDARD_PLAN
from cardops.ledger.domain.ledger import Channel, LedgerEntry, reversal_of
from cardops.ledger.domain.reconciliation import Finding, check_payment, payment_entries, probes
from cardops.payments.domain.payments import Payment, PaymentFacts, PaymentMetadata, RefundFact
from cardops.payments.domain.provider_refunds import (
    provider_refund_id,
    record_provider_refund,
    unexplained_refund,
)
from cardops.payments.domain.refunds import (
    Refund,
    RefundReason,
    RefundSource,
    RefundStatus,
    RefundTransition,
    mark_refund_rejected,
)

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def payment(*, captured: int = 10_000, refunded: int = 0, disputes: dict[str, str] | None = None) -> Payment:
    facts = PaymentFacts(
        currency="JPY",
        authorized_amount=captured,
        captured_amount=captured,
        captured_at=NOW,
        refunds={"payjp:amount_refunded": RefundFact(amount=refunded, state="succeeded")} if refunded else {},
        disputes=disputes or {},  # type: ignore[arg-type]
    )
    p = Payment(
        provider="payjp",
        provider_payment_id="ch_1",
        facts=facts,
        metadata=PaymentMetadata(store_id="s1"),
        created_at=NOW,
        updated_at=NOW,
    )
    return p.model_copy(update={"status": facts.status()})


def refund(
    refund_id: str = "rf_1",
    amount: int = 3000,
    status: RefundStatus = RefundStatus.SUCCEEDED,
    source: RefundSource = RefundSource.CARDOPS,
) -> Refund:
    return Refund(
        refund_id=refund_id,
        provider="payjp",
        provider_payment_id="ch_1",
        store_id="s1",
        channel=Channel.STANDARD,
        currency="JPY",
        amount=amount,
        reason=RefundReason.CUSTOMER_REQUEST,
        status=status,
        version=1,
        created_at=NOW,
        updated_at=NOW,
        source=source,
        history=(RefundTransition(at=NOW, actor="a", from_status=None, to_status=status),),
    )


def posted_of(*entries: LedgerEntry) -> dict[str, LedgerEntry]:
    return {e.entry_id: e for e in entries}


def test_a_capture_without_entries_is_repaired_with_the_listeners_ids() -> None:
    p = payment()
    result = check_payment(p, [], {}, STANDARD_PLAN, now=NOW)
    assert [e.entry_id for e in result.repairs] == [
        e.entry_id for e in payment_entries(p, STANDARD_PLAN, at=NOW)
    ]
    assert [d.finding for d in result.differences] == [Finding.MISSING, Finding.MISSING]
    assert all(d.repaired for d in result.differences)
    assert result.ledger_side == result.payments_side


def test_a_reconciled_payment_has_nothing_to_repair() -> None:
    p = payment(disputes={"dp_1": "lost"})
    r = refund()
    posted = posted_of(*payment_entries(p, STANDARD_PLAN, at=NOW), *refund_debit(r))
    result = check_payment(p, [r], posted, STANDARD_PLAN, now=NOW)
    assert result.repairs == () and result.differences == ()
    assert result.payments_side.charged_back == 10_000 and result.ledger_side == result.payments_side


def refund_debit(r: Refund) -> tuple[LedgerEntry, ...]:
    from cardops.ledger.domain.fees import refund_entries

    return refund_entries(
        store_id=r.store_id,
        channel=r.channel,
        currency=r.currency,
        refund_id=r.refund_id,
        amount=r.amount,
        plan=STANDARD_PLAN,
        now=NOW,
    )


def test_a_sale_posted_for_another_amount_cannot_be_decided_and_is_not_overwritten() -> None:
    p = payment(captured=10_000)
    wrong = payment_entries(payment(captured=9_000), STANDARD_PLAN, at=NOW)
    result = check_payment(p, [], posted_of(*wrong), STANDARD_PLAN, now=NOW)
    assert result.repairs == ()
    assert {d.finding for d in result.differences} == {Finding.MISMATCH}
    assert not any(d.repaired for d in result.differences)


def test_a_counted_refund_without_its_debit_is_debited_and_a_canceled_one_reversed() -> None:
    p = payment()
    counted, canceled = refund("rf_a", 1000), refund("rf_b", 2000, RefundStatus.CANCELED)
    posted = posted_of(*payment_entries(p, STANDARD_PLAN, at=NOW), *refund_debit(canceled))
    result = check_payment(p, [counted, canceled], posted, STANDARD_PLAN, now=NOW)
    kinds = sorted((e.kind.value, e.amount) for e in result.repairs)
    assert kinds == [("refund", -1000), ("reversal", 2000)]
    assert result.ledger_side.refunded == result.payments_side.refunded == 1000


def test_a_refund_reversed_while_it_still_counts_is_reported() -> None:
    p = payment()
    r = refund("rf_a", 1000)
    [debit] = refund_debit(r)
    posted = posted_of(*payment_entries(p, STANDARD_PLAN, at=NOW), debit, reversal_of(debit, now=NOW))
    result = check_payment(p, [r], posted, STANDARD_PLAN, now=NOW)
    assert [(d.finding, d.repaired) for d in result.differences] == [(Finding.REVERSED, False)]


def test_probes_name_every_entry_and_its_reversal() -> None:
    ids = {e.entry_id for e in probes(payment(disputes={"d": "lost"}), [refund()], STANDARD_PLAN, at=NOW)}
    assert len(ids) == 10  # sale, fee, chargeback, refund, returned fee: each and its reversal
    assert all(f"{i}|reversal" in ids for i in ids if not i.endswith("|reversal"))


# -- provider-side refunds --------------------------------------------------------------------


def test_the_provider_total_beyond_every_refund_record_is_a_provider_refund() -> None:
    p = payment(refunded=5000)
    change = record_provider_refund(p, [refund("rf_a", 2000, RefundStatus.REQUESTED)], STANDARD_PLAN, now=NOW)
    assert change is not None
    assert change.refund.amount == 3000 and change.refund.source is RefundSource.PROVIDER
    assert change.refund.status is RefundStatus.SUCCEEDED
    assert [e.amount for e in change.entries] == [-3000]
    assert [a.kind for a in change.alerts] == ["provider_refund"]


def test_a_duplicate_or_older_report_explains_nothing_new() -> None:
    p = payment(refunded=3000)
    first = record_provider_refund(p, [], STANDARD_PLAN, now=NOW)
    assert first is not None
    assert record_provider_refund(p, [first.refund], STANDARD_PLAN, now=NOW) is None
    assert record_provider_refund(payment(refunded=1000), [first.refund], STANDARD_PLAN, now=NOW) is None
    later = record_provider_refund(payment(refunded=4000), [first.refund], STANDARD_PLAN, now=NOW)
    assert later is not None and later.refund.amount == 1000
    assert later.refund.refund_id == provider_refund_id("payjp", "ch_1", 4000) != first.refund.refund_id


def test_the_same_state_names_the_same_provider_refund() -> None:
    a = record_provider_refund(payment(refunded=3000), [], STANDARD_PLAN, now=NOW)
    b = record_provider_refund(
        payment(refunded=3000), [], STANDARD_PLAN, now=datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert a is not None and b is not None and a.refund.refund_id == b.refund.refund_id


def test_a_cardops_refund_rejected_after_it_succeeded_still_explains_the_providers_total() -> None:
    from cardops.ledger.domain.ledger import Ledger

    r = refund("rf_a", 3000)
    ledger = Ledger(store_id="s1", channel=Channel.STANDARD, entries=refund_debit(r))
    rejected = mark_refund_rejected(r, ledger, now=NOW).refund
    assert unexplained_refund(payment(refunded=3000), [rejected]) == 0
    never_sent = refund("rf_b", 3000, RefundStatus.REJECTED)
    assert unexplained_refund(payment(refunded=3000), [never_sent]) == 3000
