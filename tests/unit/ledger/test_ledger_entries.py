"""The store ledger (SPEC §6): immutable entries, deterministic ids, balance = Σ entries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from cardops.kernel.money import CurrencyError
from cardops.ledger.domain.ledger import (
    PROVIDER_CHANNEL,
    AdjustmentReason,
    Cause,
    CauseKind,
    Channel,
    ConflictingEntryError,
    EntryKind,
    Ledger,
    LedgerEntry,
    LedgerError,
    NotReversibleError,
    WrongLedgerError,
    adjustment_entry,
    chargeback_entry,
    make_entry,
    reversal_of,
)
from tests.fixtures_ledger import sale

NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)


def _empty(channel: Channel = Channel.STANDARD) -> Ledger:
    return Ledger(store_id="s1", channel=channel)


def _capture(payment_id: str, amount: int, now: datetime = NOW) -> tuple[LedgerEntry, ...]:
    return sale(amount, captured_at=now, payment_id=payment_id)


def test_channels_and_provider_mapping() -> None:
    assert {c.value for c in Channel} == {"standard", "extended", "stripe"}
    assert PROVIDER_CHANNEL["payjp"] is Channel.STANDARD
    assert PROVIDER_CHANNEL["sbps"] is Channel.EXTENDED
    assert PROVIDER_CHANNEL["stripe"] is Channel.STRIPE


def test_adjustment_reason_codes() -> None:
    assert {r.value for r in AdjustmentReason} == {
        "multi_currency_overcharge",
        "tax_rate_change",
        "cancellation_policy_mismatch",
        "payment_method_migration",
        "other",
    }


def test_retried_posting_is_idempotent() -> None:
    first = _empty().post(_capture("ch_1", 10_000))
    # the same capture recomputed later (a retried webhook) has the same ids
    retry = first.ledger.post(_capture("ch_1", 10_000, NOW + timedelta(minutes=5)))
    assert len(first.new_entries) == 2
    assert retry.new_entries == ()
    assert retry.ledger.balance == first.ledger.balance == 10_000 - 470
    assert retry.ledger.version == 2


def test_same_id_with_different_facts_is_a_conflict() -> None:
    ledger = _empty().post(_capture("ch_1", 10_000)).ledger
    with pytest.raises(ConflictingEntryError) as caught:
        ledger.post(_capture("ch_1", 9_000))
    assert "ch_1" in caught.value.entry_id


def test_balance_is_the_sum_of_entries() -> None:
    ledger = _empty().post(_capture("ch_1", 10_000)).ledger
    ledger = ledger.post(_capture("ch_2", 3_333)).ledger
    adj = adjustment_entry(
        store_id="s1",
        channel=Channel.STANDARD,
        currency="JPY",
        adjustment_id="adj-1",
        amount=-1_234,
        reason=AdjustmentReason.TAX_RATE_CHANGE,
        now=NOW,
    )
    ledger = ledger.post([adj]).ledger
    assert ledger.balance == sum(e.amount for e in ledger.entries) == 10_000 - 470 + 3_333 - 156 - 1_234


def test_entries_must_belong_to_the_ledger() -> None:
    entries = _capture("ch_1", 1000)
    with pytest.raises(WrongLedgerError):
        _empty(Channel.EXTENDED).post(entries)
    with pytest.raises(WrongLedgerError):
        Ledger(store_id="other", channel=Channel.STANDARD).post(entries)
    with pytest.raises(CurrencyError):
        Ledger(store_id="s1", channel=Channel.STANDARD, currency="USD").post(entries)


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        (EntryKind.SALE, -1),
        (EntryKind.REFUND, 1),
        (EntryKind.PAYOUT, 1),
        (EntryKind.TRANSFER_FEE, 1),
        (EntryKind.MONTHLY_FEE, 1),
        (EntryKind.CHARGEBACK, 1),
        (EntryKind.FEE, 0),
    ],
)
def test_each_kind_has_its_sign(kind: EntryKind, amount: int) -> None:
    with pytest.raises(ValidationError):
        make_entry(
            store_id="s1",
            channel=Channel.STANDARD,
            currency="JPY",
            kind=kind,
            amount=amount,
            cause=Cause(kind=CauseKind.CAPTURE, id="x"),
            now=NOW,
        )


def test_only_adjustments_carry_a_reason_and_timestamps_are_aware() -> None:
    cause = Cause(kind=CauseKind.ADJUSTMENT, id="a")
    base = {"store_id": "s1", "channel": Channel.STANDARD, "currency": "JPY", "cause": cause}
    with pytest.raises(ValidationError):
        make_entry(kind=EntryKind.ADJUSTMENT, amount=100, now=NOW, **base)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        make_entry(
            kind=EntryKind.SALE,
            amount=100,
            now=NOW,
            reason=AdjustmentReason.OTHER,
            **base,  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        make_entry(
            kind=EntryKind.SALE,
            amount=100,
            now=datetime(2026, 1, 1),
            **base,  # type: ignore[arg-type]
        )


def test_entries_are_immutable() -> None:
    entry = _capture("ch_1", 1000)[0]
    with pytest.raises(ValidationError):
        entry.amount = 5  # type: ignore[misc]


def test_reversal_cancels_exactly_once() -> None:
    ledger = _empty().post(_capture("ch_1", 10_000)).ledger
    sale = ledger.entries[0]
    rev = reversal_of(sale, now=NOW)
    assert rev.amount == -sale.amount and rev.reverses == sale.entry_id
    after = ledger.post([rev]).ledger
    assert after.is_reversed(sale.entry_id)
    assert after.balance == -470
    # reversing again is the same entry: a retry, not a second reversal
    assert after.post([reversal_of(sale, now=NOW + timedelta(hours=1))]).new_entries == ()
    with pytest.raises(NotReversibleError):
        reversal_of(rev, now=NOW)
    assert after.open_entries_for(sale.cause) == (ledger.entries[1],)


def test_reversal_of_an_unposted_entry_is_refused() -> None:
    sale = _capture("ch_1", 10_000)[0]
    with pytest.raises(LedgerError):
        _empty().post([reversal_of(sale, now=NOW)])


def test_chargeback_is_one_debit_per_dispute() -> None:
    ledger = _empty().post(_capture("ch_1", 10_000)).ledger
    cb = chargeback_entry(
        store_id="s1",
        channel=Channel.STANDARD,
        currency="JPY",
        provider_payment_id="ch_1",
        dispute_id="dp_1",
        amount=10_000,
        now=NOW,
    )
    ledger = ledger.post([cb, cb]).ledger
    assert cb.amount == -10_000
    assert ledger.balance == -470


def test_summary_splits_confirmed_and_pending_and_names_the_shortfall() -> None:
    entries = sale(10_000, captured_at=NOW, confirmed_on=date(2026, 6, 1))
    adj = adjustment_entry(
        store_id="s1",
        channel=Channel.STANDARD,
        currency="JPY",
        adjustment_id="adj-1",
        amount=-2_000,
        reason=AdjustmentReason.PAYMENT_METHOD_MIGRATION,
        now=NOW,
    )
    ledger = _empty().post([*entries, adj]).ledger
    before = ledger.summary(date(2026, 5, 31))
    assert (before.balance, before.confirmed, before.pending, before.shortfall) == (
        7_530,
        -2_000,
        9_530,
        2_000,
    )
    after = ledger.summary(date(2026, 6, 1))
    assert (after.balance, after.confirmed, after.pending, after.shortfall) == (7_530, 7_530, 0, 0)
