"""Payout requests and negative balances (SPEC §6, seed 003): one test per rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cardops.ledger.domain.fees import EXTENDED_PLAN, STANDARD_PLAN, monthly_fee_entry
from cardops.ledger.domain.ledger import AdjustmentReason, Channel, EntryKind, Ledger, adjustment_entry
from cardops.ledger.domain.payouts import (
    BankTransferOffsetRefusedError,
    BelowPayoutMinimumError,
    CrossChannelOffsetRefusedError,
    NegativeBalanceError,
    NotProviderScheduledError,
    OffsetMethod,
    PayoutByProviderScheduleError,
    SettlementOutcome,
    offset_negative_balance,
    record_provider_payout,
    request_payout,
    settle_batch,
)
from tests.fixtures_ledger import sale

# 2026-05-20 12:00 JST
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
TODAY = date(2026, 5, 20)


def _sale(ledger: Ledger, payment_id: str, amount: int, confirmed_on: date = TODAY) -> Ledger:
    plan = EXTENDED_PLAN if ledger.channel is Channel.EXTENDED else STANDARD_PLAN
    entries = sale(
        amount,
        captured_at=NOW - timedelta(days=1),
        payment_id=payment_id,
        store_id=ledger.store_id,
        channel=ledger.channel,
        plan=plan,
        confirmed_on=confirmed_on,
    )
    return ledger.post(entries).ledger


def _adjust(ledger: Ledger, adjustment_id: str, amount: int) -> Ledger:
    entry = adjustment_entry(
        store_id=ledger.store_id,
        channel=ledger.channel,
        currency="JPY",
        adjustment_id=adjustment_id,
        amount=amount,
        reason=AdjustmentReason.MULTI_CURRENCY_OVERCHARGE,
        now=NOW,
    )
    return ledger.post([entry]).ledger


def _standard() -> Ledger:
    return Ledger(store_id="s1", channel=Channel.STANDARD)


def test_payout_pays_the_confirmed_balance_less_the_transfer_fee() -> None:
    ledger = _sale(_standard(), "ch_1", 10_000)  # 10,000 − 470 fee = 9,530 confirmed
    decision = request_payout(ledger, STANDARD_PLAN, request_id="po_1", now=NOW)
    payout = decision.payout
    assert (payout.gross, payout.transfer_fee, payout.net) == (9_530, 500, 9_030)
    assert payout.scheduled_for == date(2026, 6, 15)
    assert {e.kind: e.amount for e in decision.entries} == {
        EntryKind.PAYOUT: -9_030,
        EntryKind.TRANSFER_FEE: -500,
    }
    after = ledger.post(decision.entries).ledger
    assert after.balance == 0


def test_retried_payout_request_returns_the_same_payout() -> None:
    ledger = _sale(_standard(), "ch_1", 10_000)
    first = request_payout(ledger, STANDARD_PLAN, request_id="po_1", now=NOW)
    after = ledger.post(first.entries).ledger
    retry = request_payout(after, STANDARD_PLAN, request_id="po_1", now=NOW + timedelta(seconds=30))
    assert retry.entries == ()
    assert retry.payout == first.payout


def test_payout_refused_unless_confirmed_sales_exceed_5000() -> None:
    # 5,243 at 4.7 % leaves exactly 5,000 confirmed (fee 246): not more than 5,000
    ledger = _sale(_standard(), "ch_1", 5_243)
    assert ledger.balance == 4_997
    exact = _adjust(ledger, "adj", 5_000 - ledger.balance)
    assert exact.balance == 5_000
    with pytest.raises(BelowPayoutMinimumError) as caught:
        request_payout(exact, STANDARD_PLAN, request_id="po_1", now=NOW)
    assert caught.value.confirmed == 5_000 and caught.value.minimum == 5_000
    above = _adjust(ledger, "adj", 5_001 - ledger.balance)
    assert request_payout(above, STANDARD_PLAN, request_id="po_1", now=NOW).payout.net == 4_501


def test_pending_sales_are_not_paid_out() -> None:
    ledger = _sale(_standard(), "ch_1", 10_000)
    ledger = _sale(ledger, "ch_2", 20_000, confirmed_on=TODAY + timedelta(days=10))
    decision = request_payout(ledger, STANDARD_PLAN, request_id="po_1", now=NOW)
    assert decision.payout.gross == 9_530
    assert ledger.post(decision.entries).ledger.balance == 20_000 - 940


def test_payout_refused_while_negative_with_the_shortfall() -> None:
    ledger = _sale(_standard(), "ch_1", 10_000)
    ledger = _adjust(ledger, "adj", -12_000)
    with pytest.raises(NegativeBalanceError) as caught:
        request_payout(ledger, STANDARD_PLAN, request_id="po_1", now=NOW)
    assert caught.value.shortfall == 2_470
    assert "2470 JPY" in str(caught.value)


def test_unrequested_confirmed_sales_never_lapse() -> None:
    ledger = _sale(_standard(), "ch_1", 10_000, confirmed_on=date(2026, 1, 5))
    years_later = datetime(2029, 12, 31, 14, 0, tzinfo=UTC)  # 2029-12-31 23:00 JST
    decision = request_payout(ledger, STANDARD_PLAN, request_id="po_late", now=years_later)
    assert decision.payout.gross == 9_530
    assert decision.payout.scheduled_for == date(2030, 1, 15)


def test_extended_plan_payouts_are_recorded_not_requested() -> None:
    ledger = _sale(Ledger(store_id="s1", channel=Channel.EXTENDED), "sb_1", 100_000)
    with pytest.raises(PayoutByProviderScheduleError):
        request_payout(ledger, EXTENDED_PLAN, request_id="po_1", now=NOW)
    fee = monthly_fee_entry(
        store_id="s1", channel=Channel.EXTENDED, year=2026, month=5, plan=EXTENDED_PLAN, now=NOW
    )
    assert fee is not None
    ledger = ledger.post([fee]).ledger
    assert ledger.balance == 100_000 - 4_000 - 3_000
    decision = record_provider_payout(
        ledger,
        EXTENDED_PLAN,
        provider_payout_id="sbps-2026-06",
        amount=93_000,
        paid_on=date(2026, 6, 30),
        now=NOW,
    )
    assert decision.payout.transfer_fee == 0 and decision.payout.scheduled_for == date(2026, 6, 30)
    after = ledger.post(decision.entries).ledger
    assert after.balance == 0
    again = record_provider_payout(
        after,
        EXTENDED_PLAN,
        provider_payout_id="sbps-2026-06",
        amount=93_000,
        paid_on=date(2026, 6, 30),
        now=NOW,
    )
    assert again.entries == ()
    with pytest.raises(NotProviderScheduledError):
        record_provider_payout(
            _standard(), STANDARD_PLAN, provider_payout_id="x", amount=1, paid_on=TODAY, now=NOW
        )


def test_negative_balance_cannot_be_offset_by_bank_transfer() -> None:
    ledger = _adjust(_standard(), "adj", -3_000)
    with pytest.raises(BankTransferOffsetRefusedError) as caught:
        offset_negative_balance(
            ledger, STANDARD_PLAN, method=OffsetMethod.BANK_TRANSFER, settlement_id="b1", now=NOW
        )
    assert caught.value.shortfall == 3_000


def test_negative_balance_cannot_be_offset_from_another_channel() -> None:
    ledger = _adjust(_standard(), "adj", -3_000)
    with pytest.raises(CrossChannelOffsetRefusedError):
        offset_negative_balance(
            ledger,
            STANDARD_PLAN,
            method=OffsetMethod.SAME_CHANNEL_SETTLEMENT,
            source_channel=Channel.STRIPE,
            settlement_id="b1",
            now=NOW,
        )
    with pytest.raises(CrossChannelOffsetRefusedError):
        offset_negative_balance(
            ledger, STANDARD_PLAN, method=OffsetMethod.OTHER_CHANNEL, settlement_id="b1", now=NOW
        )


def test_batch_settlement_still_negative_pays_nothing_and_carries_forward() -> None:
    ledger = _adjust(_standard(), "adj", -30_000)
    ledger = _sale(ledger, "ch_1", 10_000, confirmed_on=TODAY + timedelta(days=20))  # pending 9,530
    result = offset_negative_balance(
        ledger,
        STANDARD_PLAN,
        method=OffsetMethod.SAME_CHANNEL_SETTLEMENT,
        source_channel=Channel.STANDARD,
        settlement_id="b1",
        now=NOW,
    )
    assert result.outcome is SettlementOutcome.CARRIED_FORWARD
    assert result.pending_netted == 9_530
    assert result.net == result.carried_forward == -20_470
    assert result.payout is None and result.entries == ()
    assert "no payout" in result.explanation
    with pytest.raises(NegativeBalanceError):
        request_payout(ledger, STANDARD_PLAN, request_id="po_1", now=NOW)


def test_batch_settlement_nets_pending_sales_and_pays_a_positive_result() -> None:
    ledger = _adjust(_standard(), "adj", -3_000)
    ledger = _sale(ledger, "ch_1", 20_000, confirmed_on=TODAY + timedelta(days=20))  # pending 19,060
    with pytest.raises(NegativeBalanceError) as caught:
        request_payout(ledger, STANDARD_PLAN, request_id="po_1", now=NOW)  # confirmed part is negative
    assert caught.value.shortfall == 3_000
    result = settle_batch(ledger, STANDARD_PLAN, settlement_id="b1", now=NOW)
    assert result.outcome is SettlementOutcome.PAID
    assert result.confirmed == -3_000 and result.pending_netted == 19_060 and result.net == 16_060
    assert result.payout is not None and result.payout.net == 16_060 - 500
    after = ledger.post(result.entries).ledger
    assert after.balance == 0
    retry = settle_batch(after, STANDARD_PLAN, settlement_id="b1", now=NOW)
    assert retry.entries == () and retry.payout == result.payout


def test_batch_settlement_positive_but_below_minimum_carries_forward() -> None:
    ledger = _adjust(_standard(), "adj", -3_000)
    ledger = _sale(ledger, "ch_1", 5_000, confirmed_on=TODAY + timedelta(days=20))  # pending 4,765
    result = settle_batch(ledger, STANDARD_PLAN, settlement_id="b1", now=NOW)
    assert result.outcome is SettlementOutcome.CARRIED_FORWARD
    assert result.carried_forward == 1_765 and result.entries == ()


def test_batch_settlement_on_a_provider_scheduled_channel_leaves_payment_to_the_provider() -> None:
    ledger = _adjust(Ledger(store_id="s1", channel=Channel.EXTENDED), "adj", -3_000)
    ledger = _sale(ledger, "sb_1", 20_000, confirmed_on=TODAY + timedelta(days=20))
    result = settle_batch(ledger, EXTENDED_PLAN, settlement_id="b1", now=NOW)
    assert result.outcome is SettlementOutcome.SCHEDULED_BY_PROVIDER
    assert result.net == 20_000 - 800 - 3_000 and result.entries == ()
