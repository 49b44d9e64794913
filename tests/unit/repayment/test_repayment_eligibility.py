"""May the card be charged again, or must the store take another payment method (SPEC §4)?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardops.payments.domain.payments import Payment, PaymentFacts, PaymentStatus
from cardops.payments.domain.repayment import (
    IneligibleReason,
    check_eligibility,
    repayment_idempotency_key,
)

PAID_AT = datetime(2025, 3, 1, 3, tzinfo=UTC)


def payment(
    status: PaymentStatus = PaymentStatus.EXPIRED_REFUNDED, *, authorized_at: datetime | None = PAID_AT
) -> Payment:
    return Payment(
        provider="stripe",
        provider_payment_id="pi_1",
        facts=PaymentFacts(
            currency="JPY", authorized_amount=12000, authorized_at=authorized_at, expired=True
        ),
        status=status,
        created_at=PAID_AT + timedelta(minutes=5),
        updated_at=PAID_AT + timedelta(days=8),
    )


def test_an_expired_refund_within_the_window_on_a_reusable_card_is_eligible() -> None:
    result = check_eligibility(
        payment(), PAID_AT + timedelta(days=20), card_reusable=True, brand_allows_mit=True
    )
    assert result.eligible and result.outcome == "eligible"
    assert result.reason is None and result.suggested_methods == ()
    assert result.window_ends_at == PAID_AT + timedelta(days=60)


def test_the_window_end_is_inclusive() -> None:
    at_end = check_eligibility(
        payment(), PAID_AT + timedelta(days=60), card_reusable=True, brand_allows_mit=True
    )
    assert at_end.eligible
    after = check_eligibility(
        payment(), PAID_AT + timedelta(days=60, seconds=1), card_reusable=True, brand_allows_mit=True
    )
    assert after.outcome == "alternative_payment_required"
    assert after.reason is IneligibleReason.WINDOW_PASSED
    assert after.suggested_methods == ("bank_transfer", "pay_at_store")


def test_the_window_is_configurable() -> None:
    result = check_eligibility(
        payment(), PAID_AT + timedelta(days=20), timedelta(days=14), card_reusable=True, brand_allows_mit=True
    )
    assert result.reason is IneligibleReason.WINDOW_PASSED


def test_without_an_authorization_time_the_window_runs_from_creation() -> None:
    result = check_eligibility(
        payment(authorized_at=None),
        PAID_AT + timedelta(days=60, minutes=3),
        card_reusable=True,
        brand_allows_mit=True,
    )
    assert result.eligible


@pytest.mark.parametrize("status", [s for s in PaymentStatus if s is not PaymentStatus.EXPIRED_REFUNDED])
def test_only_an_automatic_refund_opens_a_re_payment(status: PaymentStatus) -> None:
    result = check_eligibility(
        payment(status), PAID_AT + timedelta(days=1), card_reusable=True, brand_allows_mit=True
    )
    assert result.reason is IneligibleReason.NOT_EXPIRED_REFUNDED


@pytest.mark.parametrize(
    ("reusable", "brand", "expected"),
    [
        (False, True, (IneligibleReason.CARD_NOT_REUSABLE,)),
        (True, False, (IneligibleReason.BRAND_DISALLOWS,)),
        (False, False, (IneligibleReason.CARD_NOT_REUSABLE, IneligibleReason.BRAND_DISALLOWS)),
    ],
)
def test_card_conditions(reusable: bool, brand: bool, expected: tuple[IneligibleReason, ...]) -> None:
    result = check_eligibility(
        payment(), PAID_AT + timedelta(days=1), card_reusable=reusable, brand_allows_mit=brand
    )
    assert result.outcome == "alternative_payment_required"
    assert result.reasons == expected and result.reason is expected[0]
    assert set(result.suggested_methods) == {"bank_transfer", "pay_at_store"}


def test_all_reasons_are_kept_in_order() -> None:
    result = check_eligibility(
        payment(PaymentStatus.CAPTURED),
        PAID_AT + timedelta(days=90),
        card_reusable=False,
        brand_allows_mit=False,
    )
    assert result.reasons == tuple(IneligibleReason)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_eligibility(payment(), datetime(2025, 3, 2), card_reusable=True, brand_allows_mit=True)


def test_idempotency_key_is_stable_per_request_and_distinct_across_requests() -> None:
    key = repayment_idempotency_key("rq_20250312_0001")
    assert key == repayment_idempotency_key("rq_20250312_0001")
    assert key != repayment_idempotency_key("rq_20250312_0002")
    assert key.startswith("cardops-repayment-") and len(key) <= 255
    assert key.isascii() and " " not in key
    unicode_key = repayment_idempotency_key("再決済/リクエスト 1")
    assert unicode_key.isascii() and len(unicode_key) == len(key)


@pytest.mark.parametrize("request_id", ["", "   "])
def test_idempotency_key_needs_a_request_id(request_id: str) -> None:
    with pytest.raises(ValueError, match="request_id"):
        repayment_idempotency_key(request_id)
