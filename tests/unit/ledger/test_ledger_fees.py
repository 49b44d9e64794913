"""Plans, fees and their rounding (SPEC §6)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardops.kernel.money import CurrencyError
from cardops.ledger.domain.fees import (
    DEFAULT_PLANS,
    EXTENDED_PLAN,
    STANDARD_PLAN,
    PayoutMode,
    PlanConfig,
    monthly_fee_entry,
    refund_entries,
    require_plan_currency,
)
from cardops.ledger.domain.ledger import Channel, EntryKind, Ledger
from tests.fixtures_ledger import ledger_of, sale

NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)


def _capture(amount: int, plan: PlanConfig = STANDARD_PLAN, confirmed_on: date | None = None) -> Ledger:
    return ledger_of(sale(amount, captured_at=NOW, plan=plan, confirmed_on=confirmed_on))


def test_defaults_match_the_spec() -> None:
    assert DEFAULT_PLANS.for_channel(Channel.STANDARD).fee_rate_percent == Decimal("4.7")
    assert STANDARD_PLAN.transfer_fee == 500
    assert STANDARD_PLAN.payout_minimum_exclusive == 5000
    assert STANDARD_PLAN.payout_mode is PayoutMode.ON_REQUEST
    assert DEFAULT_PLANS.for_channel(Channel.EXTENDED).fee_rate_percent == Decimal("4.0")
    assert EXTENDED_PLAN.transfer_fee == 0
    assert EXTENDED_PLAN.monthly_fee == 3000
    assert EXTENDED_PLAN.payout_mode is PayoutMode.PROVIDER_SCHEDULE
    assert STANDARD_PLAN.fee_rounding == "down"
    assert STANDARD_PLAN.refund_returns_fee is False


@pytest.mark.parametrize(
    ("amount", "down", "half_up"),
    [(1001, 47, 47), (1012, 47, 48), (1000, 47, 47), (10, 0, 0), (11, 0, 1), (99_999, 4699, 4700)],
)
def test_fee_rounding_of_4_7_percent(amount: int, down: int, half_up: int) -> None:
    assert STANDARD_PLAN.fee_for(amount) == down
    assert STANDARD_PLAN.model_copy(update={"fee_rounding": "half_up"}).fee_for(amount) == half_up


@given(st.integers(min_value=1, max_value=10**9))
def test_rounded_down_fee_never_exceeds_the_rate(amount: int) -> None:
    fee = STANDARD_PLAN.fee_for(amount)
    assert fee * 1000 <= amount * 47 < (fee + 1) * 1000


def test_capture_posts_sale_and_fee() -> None:
    ledger = _capture(1001)
    kinds = {e.kind: e.amount for e in ledger.entries}
    assert kinds == {EntryKind.SALE: 1001, EntryKind.FEE: -47}
    assert ledger.balance == 954


def test_capture_of_a_tiny_amount_has_no_zero_fee_entry() -> None:
    ledger = _capture(10)
    assert [e.kind for e in ledger.entries] == [EntryKind.SALE]


def test_sale_is_pending_until_its_confirmation_date() -> None:
    ledger = _capture(10_000, confirmed_on=date(2026, 5, 25))
    assert ledger.pending_balance(date(2026, 5, 24)) == 10_000 - 470
    assert ledger.confirmed_balance(date(2026, 5, 24)) == 0
    assert ledger.confirmed_balance(date(2026, 5, 25)) == 9530


def test_confirmation_delay_from_plan() -> None:
    plan = STANDARD_PLAN.model_copy(update={"confirmation_delay_days": 3})
    ledger = _capture(10_000, plan=plan)
    assert {e.effective_on for e in ledger.entries} == {date(2026, 5, 23)}


def test_refund_keeps_the_fee_by_default() -> None:
    entries = refund_entries(
        store_id="s1",
        channel=Channel.STANDARD,
        currency="JPY",
        refund_id="rf",
        amount=1001,
        plan=STANDARD_PLAN,
        now=NOW,
    )
    assert [(e.kind, e.amount) for e in entries] == [(EntryKind.REFUND, -1001)]


def test_refund_returns_the_fee_when_configured() -> None:
    plan = STANDARD_PLAN.model_copy(update={"refund_returns_fee": True})
    entries = refund_entries(
        store_id="s1",
        channel=Channel.STANDARD,
        currency="JPY",
        refund_id="rf",
        amount=1001,
        plan=plan,
        now=NOW,
    )
    assert [(e.kind, e.amount) for e in entries] == [(EntryKind.REFUND, -1001), (EntryKind.FEE, 47)]


def test_monthly_fee_once_per_month_and_only_when_the_plan_has_one() -> None:
    may = monthly_fee_entry(
        store_id="s1", channel=Channel.EXTENDED, year=2026, month=5, plan=EXTENDED_PLAN, now=NOW
    )
    again = monthly_fee_entry(
        store_id="s1", channel=Channel.EXTENDED, year=2026, month=5, plan=EXTENDED_PLAN, now=NOW
    )
    june = monthly_fee_entry(
        store_id="s1", channel=Channel.EXTENDED, year=2026, month=6, plan=EXTENDED_PLAN, now=NOW
    )
    assert may is not None and again is not None and june is not None
    assert may.amount == -3000
    assert may.entry_id == again.entry_id != june.entry_id
    ledger = Ledger(store_id="s1", channel=Channel.EXTENDED).post([may, again, june]).ledger
    assert ledger.balance == -6000
    assert (
        monthly_fee_entry(
            store_id="s1", channel=Channel.STANDARD, year=2026, month=5, plan=STANDARD_PLAN, now=NOW
        )
        is None
    )


def test_plan_currency_is_enforced_for_fixed_amounts() -> None:
    require_plan_currency(STANDARD_PLAN, "jpy")
    with pytest.raises(CurrencyError):
        require_plan_currency(STANDARD_PLAN, "USD")
