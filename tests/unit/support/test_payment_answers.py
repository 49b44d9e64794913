"""What support answers about a payment (seed 002): validity 7/31 days, who can void, refunds, disputes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardops.payments.domain.payments import Payment, PaymentFacts, PaymentMetadata, PaymentStatus, RefundFact
from cardops.support.domain.payment_answers import (
    LinkedRefund,
    RefundCandidate,
    answer_for_payment,
    validity_days,
)

NOW = datetime(2026, 5, 11, 3, tzinfo=UTC)
AUTHORIZED = NOW - timedelta(days=2)


def _payment(status: PaymentStatus, **facts: object) -> Payment:
    return Payment(
        provider="payjp",
        provider_payment_id="ch_1",
        facts=PaymentFacts(currency="JPY", authorized_amount=5000, authorized_at=AUTHORIZED, **facts),  # type: ignore[arg-type]
        metadata=PaymentMetadata(store_id="store-1", mcc="3000"),
        status=status,
        capture_deadline=NOW + timedelta(days=3),
        deadline_bound="business",
        created_at=AUTHORIZED,
        updated_at=AUTHORIZED,
    )


@pytest.mark.parametrize(
    ("mcc", "days"),
    [("7011", 31), ("3501", 31), ("3000", 31), ("4511", 31), ("7512", 31), ("3351", 31),
     ("5812", 7), (None, 7), ("4411", 7)],
)  # fmt: skip
def test_validity_is_31_days_for_hotels_airlines_and_car_rental(mcc: str | None, days: int) -> None:
    assert validity_days(mcc) == days


@pytest.mark.parametrize(
    ("status", "can_void", "words"),
    [
        (PaymentStatus.AUTHORIZED, True, "only the acquirer"),
        (PaymentStatus.EXPIRED_REFUNDED, False, "already voided"),
        (PaymentStatus.CANCELED, False, "already voided"),
        (PaymentStatus.CAPTURED, False, "refunded, not voided"),
        (PaymentStatus.FAILED, False, "declined"),
    ],
)
def test_why_the_store_cannot_void(status: PaymentStatus, can_void: bool, words: str) -> None:
    answers = answer_for_payment(_payment(status), refunds=[], store_refunds=[], now=NOW)
    assert answers.authorization.store_can_void is can_void and words in answers.authorization.why
    assert answers.authorization.lapses_at == AUTHORIZED + timedelta(days=31)


def test_after_the_capture_deadline_the_store_cannot_void_either() -> None:
    answers = answer_for_payment(
        _payment(PaymentStatus.AUTHORIZED), refunds=[], store_refunds=[], now=NOW + timedelta(days=4)
    )
    assert answers.authorization.store_can_void is False and answers.deadline.passed is True


def test_linked_refunds_hide_candidates_and_provider_refunds_count_as_linked() -> None:
    candidate = RefundCandidate(refund_id="rf_x", store_id="store-1", amount=5000, currency="JPY", at=NOW)
    other_store = candidate.model_copy(update={"refund_id": "rf_y", "store_id": "store-2"})
    payment = _payment(PaymentStatus.AUTHORIZED)
    none_linked = answer_for_payment(payment, refunds=[], store_refunds=[candidate, other_store], now=NOW)
    assert [c.refund_id for c in none_linked.refunds.candidates] == ["rf_x"]
    mine = LinkedRefund(refund_id="rf_1", amount=5000, status="succeeded", at=NOW, source="cardops")
    linked = answer_for_payment(payment, refunds=[mine], store_refunds=[candidate], now=NOW)
    assert linked.refunds.candidates == [] and [r.refund_id for r in linked.refunds.linked] == ["rf_1"]
    provider = _payment(
        PaymentStatus.REFUNDED,
        captured_amount=5000,
        refunds={"re_9": RefundFact(amount=5000, state="succeeded")},
    )
    by_provider = answer_for_payment(provider, refunds=[], store_refunds=[candidate], now=NOW)
    assert [(r.refund_id, r.source) for r in by_provider.refunds.linked] == [("re_9", "provider")]


@pytest.mark.parametrize(
    ("disputes", "state"),
    [
        ({}, "none"),
        ({"dp_1": "open"}, "open"),
        ({"dp_1": "won"}, "won"),
        ({"dp_1": "lost", "dp_2": "won"}, "lost"),
    ],
)
def test_dispute_state(disputes: dict[str, str], state: str) -> None:
    payment = _payment(PaymentStatus.CAPTURED, captured_amount=5000, disputes=disputes)
    assert answer_for_payment(payment, refunds=[], store_refunds=[], now=NOW).dispute.state == state
