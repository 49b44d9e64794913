"""A capture after the deadline or after the automatic refund is refused with a named error."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cardops.kernel.calendar import TOKYO
from cardops.payments.domain.capture_deadline import (
    AmountExceedsAuthorized,
    CaptureDeadlinePassed,
    InvalidCaptureAmount,
    PaymentNotCapturable,
    ensure_capturable,
)
from cardops.payments.domain.payments import Payment, PaymentFacts, PaymentMetadata, PaymentStatus

AUTHORIZED_AT = datetime(2025, 3, 1, 1, tzinfo=UTC)
DEADLINE = datetime(2025, 3, 8, 23, 59, 59, 999999, tzinfo=TOKYO)


def payment(
    *,
    status: PaymentStatus = PaymentStatus.AUTHORIZED,
    deadline: datetime | None = DEADLINE,
    facts: PaymentFacts | None = None,
) -> Payment:
    return Payment(
        provider="payjp",
        provider_payment_id="ch_1",
        facts=facts or PaymentFacts(currency="JPY", authorized_amount=5000, authorized_at=AUTHORIZED_AT),
        metadata=PaymentMetadata(store_id="s1", visit_date=date(2025, 3, 1), accepted_at=AUTHORIZED_AT),
        status=status,
        capture_deadline=deadline,
        deadline_bound="business" if deadline else None,
        created_at=AUTHORIZED_AT,
        updated_at=AUTHORIZED_AT,
    )


def test_capture_before_and_at_the_deadline_is_allowed() -> None:
    ensure_capturable(payment(), DEADLINE - timedelta(hours=1), amount=5000)
    ensure_capturable(payment(), DEADLINE, amount=1)


def test_capture_after_the_deadline_names_the_deadline() -> None:
    late = DEADLINE + timedelta(microseconds=1)
    with pytest.raises(CaptureDeadlinePassed) as info:
        ensure_capturable(payment(), late)
    assert info.value.deadline == DEADLINE
    assert "認証期日" in str(info.value)
    assert DEADLINE.isoformat() in str(info.value)


def test_capture_after_the_automatic_refund_is_refused() -> None:
    with pytest.raises(PaymentNotCapturable) as info:
        ensure_capturable(payment(status=PaymentStatus.EXPIRED_REFUNDED), DEADLINE - timedelta(days=1))
    assert info.value.status is PaymentStatus.EXPIRED_REFUNDED
    assert "support desk" in str(info.value)


@pytest.mark.parametrize(
    "status",
    [s for s in PaymentStatus if s is not PaymentStatus.AUTHORIZED],
)
def test_only_authorized_payments_are_capturable(status: PaymentStatus) -> None:
    with pytest.raises(PaymentNotCapturable) as info:
        ensure_capturable(payment(status=status), AUTHORIZED_AT)
    assert info.value.status is status


def test_amount_above_the_authorization_is_refused() -> None:
    with pytest.raises(AmountExceedsAuthorized) as info:
        ensure_capturable(payment(), AUTHORIZED_AT, amount=5001)
    assert (info.value.amount, info.value.authorized) == (5001, 5000)


@pytest.mark.parametrize("amount", [0, -100])
def test_non_positive_amount_is_refused(amount: int) -> None:
    with pytest.raises(InvalidCaptureAmount):
        ensure_capturable(payment(), AUTHORIZED_AT, amount=amount)


def test_without_a_stored_deadline_it_is_computed_from_the_facts() -> None:
    facts = PaymentFacts(
        currency="JPY",
        authorized_amount=5000,
        authorized_at=AUTHORIZED_AT,
        authorization_expires_at=AUTHORIZED_AT + timedelta(days=3),
    )
    unstored = payment(deadline=None, facts=facts)
    ensure_capturable(unstored, AUTHORIZED_AT + timedelta(days=2, hours=12))
    with pytest.raises(CaptureDeadlinePassed) as info:
        ensure_capturable(unstored, AUTHORIZED_AT + timedelta(days=2, hours=12, seconds=1))
    assert info.value.deadline == AUTHORIZED_AT + timedelta(days=2, hours=12)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ensure_capturable(payment(), datetime(2025, 3, 2))
