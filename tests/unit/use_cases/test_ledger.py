"""The ledger use cases (SPEC §6) on the in-memory fakes: postings that follow a payment, payouts
decided from the balance (and decided again when a posting lands in between), adjustments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from cardops.ledger.domain.ledger import AdjustmentReason, Channel, EntryKind, LedgerEntry
from cardops.ledger.domain.payouts import NegativeBalanceError
from tests.builders import FINANCE, NOW, captured_payment, fake_ledger_service
from tests.fakes.ledger import FakeLedgers

SALE, FEE = 10_000, 470  # the standard plan's 4.7 %
LONG_AGO = NOW - timedelta(days=60)  # its sale is confirmed by now


def test_a_capture_posts_its_sale_and_fee_once() -> None:
    ledgers = FakeLedgers()
    service = fake_ledger_service(ledgers)
    payment = captured_payment(amount=SALE, at=LONG_AGO).payment
    posted = service.post_payment_facts(payment, at=LONG_AGO)
    assert sorted(e.kind for e in posted) == sorted([EntryKind.SALE, EntryKind.FEE])
    assert service.post_payment_facts(payment, at=LONG_AGO) == ()  # the change delivered again
    [summary] = service.balances("store-1", now=NOW)
    assert summary.balance == SALE - FEE


def test_a_payout_pays_the_confirmed_balance_and_is_decided_once_per_request() -> None:
    service = fake_ledger_service()
    service.post_payment_facts(captured_payment(amount=SALE, at=LONG_AGO).payment, at=LONG_AGO)
    payout = service.request_payout(
        "store-1", Channel.STANDARD, "JPY", request_id="p1", now=NOW, actor=FINANCE
    )
    assert payout.gross == SALE - FEE
    again = service.request_payout(
        "store-1", Channel.STANDARD, "JPY", request_id="p1", now=NOW, actor=FINANCE
    )
    assert again == payout
    [summary] = service.balances("store-1", now=NOW)
    assert summary.balance == 0


class RacingLedgers(FakeLedgers):
    """A refund is posted between the payout's read of the balance and its write, once."""

    def __init__(self, racing: Sequence[LedgerEntry]) -> None:
        super().__init__()
        self.racing = list(racing)

    def post(self, entries: Sequence[LedgerEntry], *, expected_counts: dict[str, int] | None = None) -> None:
        if expected_counts and self.racing:
            super().post(self.racing)
            self.racing = []
        super().post(entries, expected_counts=expected_counts)


def test_a_payout_is_decided_again_when_the_balance_moved_under_it() -> None:
    payment = captured_payment(amount=SALE, at=LONG_AGO).payment
    refund = FakeLedgers()  # the refund's debit, decided elsewhere
    service = fake_ledger_service(refund)
    refund_entry = service.adjust(
        "store-1", Channel.STANDARD, "JPY", adjustment_id="a1", amount=-2000,
        reason=AdjustmentReason.OTHER, memo="", now=LONG_AGO, actor=FINANCE,
    )  # fmt: skip
    ledgers = RacingLedgers([refund_entry])
    service = fake_ledger_service(ledgers)
    service.post_payment_facts(payment, at=LONG_AGO)
    payout = service.request_payout(
        "store-1", Channel.STANDARD, "JPY", request_id="p1", now=NOW, actor=FINANCE
    )
    assert payout.gross == SALE - FEE - 2000  # not the balance it first read
    assert ledgers.load("store-1", Channel.STANDARD).ledger.balance == 0


def test_no_payout_from_a_negative_balance() -> None:
    service = fake_ledger_service()
    service.adjust(
        "store-1", Channel.STANDARD, "JPY", adjustment_id="a1", amount=-500,
        reason=AdjustmentReason.TAX_RATE_CHANGE, memo="", now=LONG_AGO, actor=FINANCE,
    )  # fmt: skip
    with pytest.raises(NegativeBalanceError):
        service.request_payout("store-1", Channel.STANDARD, "JPY", request_id="p1", now=NOW, actor=FINANCE)


def test_an_adjustment_is_applied_once_and_names_who_made_it() -> None:
    ledgers = FakeLedgers()
    service = fake_ledger_service(ledgers)
    for _ in range(2):
        entry = service.adjust(
            "store-1", Channel.STANDARD, "JPY", adjustment_id="a1", amount=-800,
            reason=AdjustmentReason.OTHER, memo="typo", now=NOW, actor=FINANCE,
        )  # fmt: skip
    assert entry.recorded_by == FINANCE
    assert ledgers.load("store-1", Channel.STANDARD).ledger.balance == -800
