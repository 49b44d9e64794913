"""Any sequence of captures, refunds, corrections, adjustments and payouts keeps the invariants.

An independent model of what the business expects (captures net of fees, counted refunds,
adjustments, payouts) is the oracle for the balance; the ledger's own sum must agree with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cardops.kernel.calendar import tokyo_date
from cardops.ledger.domain.fees import STANDARD_PLAN
from cardops.ledger.domain.ledger import (
    AdjustmentReason,
    Channel,
    EntryKind,
    Ledger,
    LedgerEntry,
    adjustment_entry,
)
from cardops.ledger.domain.payouts import (
    BelowPayoutMinimumError,
    NegativeBalanceError,
    SettlementOutcome,
    request_payout,
    settle_batch,
)
from cardops.payments.domain.refunds import (
    COUNTED_STATUSES,
    DebitMemoError,
    InvalidRefundTransitionError,
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
from tests.fixtures_ledger import sale

PLAN = STANDARD_PLAN
amounts = st.integers(min_value=1, max_value=60_000)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
        self.ledger = Ledger(store_id="s1", channel=Channel.STANDARD)
        self.targets: dict[str, RefundTarget] = {}
        self.refunds: dict[str, Refund] = {}
        self.expected_balance = 0
        self.payout_gross = 0
        self.adjusted = 0
        self.serial = 0

    # --- helpers -------------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def _post(self, entries: tuple[LedgerEntry, ...]) -> None:
        self.ledger = self.ledger.post(entries).ledger

    def _apply(self, change: RefundChange) -> None:
        self._post(change.entries)
        for refund in change.changed:
            previous = self.refunds.get(refund.refund_id)
            assert previous is None or refund.version == previous.version + 1
            self.refunds[refund.refund_id] = refund

    def _of(self, payment_id: str) -> list[Refund]:
        return [r for r in self.refunds.values() if r.provider_payment_id == payment_id]

    def _model_balance(self) -> int:
        sales = sum(t.captured_amount - PLAN.fee_for(t.captured_amount) for t in self.targets.values())
        refunded = sum(r.amount for r in self.refunds.values() if r.status in COUNTED_STATUSES)
        return sales - refunded + self.adjusted - self.payout_gross

    # --- rules ---------------------------------------------------------------------------------
    @rule(amount=amounts, delay=st.integers(min_value=0, max_value=20))
    def capture(self, amount: int, delay: int) -> None:
        payment_id = self._next_id("ch_")
        entries = sale(
            amount,
            captured_at=self.now,
            payment_id=payment_id,
            plan=PLAN,
            confirmed_on=tokyo_date(self.now) + timedelta(days=delay),
        )
        self._post(entries)
        self.targets[payment_id] = RefundTarget(
            provider="payjp",
            provider_payment_id=payment_id,
            store_id="s1",
            channel=Channel.STANDARD,
            currency="JPY",
            captured_amount=amount,
        )
        # a retried webhook posts the same capture again: nothing changes
        assert self.ledger.post(entries).new_entries == ()

    @precondition(lambda self: self.targets)
    @rule(data=st.data(), amount=amounts, reason=st.sampled_from(RefundReason))
    def refund(self, data: st.DataObject, amount: int, reason: RefundReason) -> None:
        payment_id = data.draw(st.sampled_from(sorted(self.targets)))
        target = self.targets[payment_id]
        existing = self._of(payment_id)
        counted = sum(r.amount for r in existing if r.status in COUNTED_STATUSES)
        command = RefundCommand(
            amount=amount, reason=reason, idempotency_key=self._next_id("key"), actor="finance"
        )
        try:
            change = request_refund(target, existing, command, PLAN, now=self.now)
        except RefundExceedsCapturedError as error:
            assert counted + amount > target.captured_amount
            assert error.remaining == target.captured_amount - counted
            return
        assert counted + amount <= target.captured_amount
        self._apply(change)

    @precondition(lambda self: self.refunds)
    @rule(
        data=st.data(),
        action=st.sampled_from(["submit", "succeed", "reject", "cancel", "change", "reverse", "memo"]),
        new_amount=amounts,
        reversible=st.booleans(),
    )
    def correct(self, data: st.DataObject, action: str, new_amount: int, reversible: bool) -> None:
        refund = self.refunds[data.draw(st.sampled_from(sorted(self.refunds)))]
        before = refund.status
        try:
            if action == "submit":
                change = submit_refund(refund, now=self.now, card_expired=data.draw(st.booleans()))
            elif action == "succeed":
                change = mark_refund_succeeded(refund, now=self.now)
            elif action == "reject":
                change = mark_refund_rejected(refund, self.ledger, now=self.now)
                if change.changed:
                    assert len(change.alerts) == 1
            elif action == "cancel":
                change = cancel_refund(refund, self.ledger, now=self.now, actor="finance")
            elif action == "change":
                target = self.targets[refund.provider_payment_id]
                existing = self._of(refund.provider_payment_id)
                change = change_refund_amount(
                    refund, target, existing, new_amount, self.ledger, PLAN, now=self.now, actor="finance"
                )
            elif action == "reverse":
                capabilities = ProviderCapabilities(refund_reversal=reversible)
                change = reverse_submitted_refund(
                    refund, self.ledger, capabilities, now=self.now, actor="finance"
                )
            else:
                change = issue_debit_memo(refund, now=self.now, actor="finance")
                assert before is RefundStatus.SUCCEEDED and change.debit_memo is not None
        except InvalidRefundTransitionError:
            return
        except RefundReversalNotSupportedError:
            assert not reversible and before is RefundStatus.SUBMITTED
            return
        except DebitMemoError:
            assert before is not RefundStatus.SUCCEEDED
            return
        except RefundExceedsCapturedError:
            assert action == "change"
            return
        except ValueError as error:  # same amount on a change
            assert action == "change" and new_amount == refund.amount, error
            return
        self._apply(change)

    @rule(
        amount=st.integers(min_value=-80_000, max_value=30_000).filter(bool),
        reason=st.sampled_from(AdjustmentReason),
    )
    def adjust(self, amount: int, reason: AdjustmentReason) -> None:
        entry = adjustment_entry(
            store_id="s1",
            channel=Channel.STANDARD,
            currency="JPY",
            adjustment_id=self._next_id("adj"),
            amount=amount,
            reason=reason,
            now=self.now,
        )
        self._post((entry, entry))
        self.adjusted += amount

    @rule(hours=st.integers(min_value=1, max_value=24 * 45))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def payout(self) -> None:
        today = tokyo_date(self.now)
        available = min(self.ledger.confirmed_balance(today), self.ledger.balance)
        try:
            decision = request_payout(self.ledger, PLAN, request_id=self._next_id("po"), now=self.now)
        except NegativeBalanceError as error:
            assert available < 0 and error.shortfall == -available
            return
        except BelowPayoutMinimumError:
            assert 0 <= available <= PLAN.payout_minimum_exclusive
            return
        # no payout while negative; only above the minimum; the transfer fee comes out of it
        assert self.ledger.balance >= 0 and available > PLAN.payout_minimum_exclusive
        assert decision.payout.gross == available
        assert decision.payout.net == available - PLAN.transfer_fee
        assert decision.payout.scheduled_for > today
        self._post(decision.entries)
        self.payout_gross += decision.payout.gross

    @rule()
    def batch_settlement(self) -> None:
        balance = self.ledger.balance
        result = settle_batch(self.ledger, PLAN, settlement_id=self._next_id("bs"), now=self.now)
        assert result.net == balance
        if result.outcome is SettlementOutcome.PAID:
            assert balance > PLAN.payout_minimum_exclusive and result.payout is not None
            self._post(result.entries)
            self.payout_gross += result.payout.gross
        else:
            assert result.entries == () and result.payout is None and result.carried_forward == balance

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def balance_is_the_sum_and_matches_the_business_model(self) -> None:
        assert self.ledger.balance == sum(e.amount for e in self.ledger.entries)
        assert self.ledger.balance == self._model_balance()

    @invariant()
    def refunds_never_exceed_captures(self) -> None:
        for payment_id, target in self.targets.items():
            counted = sum(r.amount for r in self._of(payment_id) if r.status in COUNTED_STATUSES)
            assert counted <= target.captured_amount

    @invariant()
    def entries_are_unique_and_reversed_at_most_once(self) -> None:
        ids = [e.entry_id for e in self.ledger.entries]
        assert len(ids) == len(set(ids))
        reversed_ids = [e.reverses for e in self.ledger.entries if e.kind is EntryKind.REVERSAL]
        assert len(reversed_ids) == len(set(reversed_ids))
        by_id = {e.entry_id: e for e in self.ledger.entries}
        for target_id in reversed_ids:
            assert target_id is not None and by_id[target_id].kind is not EntryKind.REVERSAL

    @invariant()
    def only_counted_refunds_hold_open_ledger_debits(self) -> None:
        for refund in self.refunds.values():
            open_debit = -sum(e.amount for e in self.ledger.open_entries_for(refund.cause))
            assert open_debit == (refund.amount if refund.status in COUNTED_STATUSES else 0)


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
