"""The capture deadline of SPEC §3: business bound, provider bound, reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cardops.kernel.calendar import TOKYO
from cardops.payments.domain.capture_deadline import (
    AIRLINE_MCCS,
    DEFAULT_EXTENDED_HOLD_MCCS,
    AuthorizationHold,
    CaptureDeadline,
    DeadlinePolicy,
    InvalidExpiryDays,
    capture_deadline,
    payjp_expired_at,
)


def jst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=TOKYO)


def end_of_day_jst(y: int, m: int, d: int) -> datetime:
    return jst(y, m, d, 23, 59, 59, 999999)


def far_future_hold(authorized_at: datetime) -> datetime:
    """A provider validity long enough that only the business bound can apply."""
    return authorized_at + timedelta(days=1000)


@pytest.mark.parametrize(
    ("visit", "expected_day"),
    [
        (date(2025, 1, 31), (2025, 2, 7)),
        (date(2025, 2, 28), (2025, 3, 7)),  # 2025 is not a leap year
        (date(2028, 2, 28), (2028, 3, 6)),  # 2028 is: Feb 29 exists
        (date(2028, 2, 29), (2028, 3, 7)),
        (date(2025, 12, 31), (2026, 1, 7)),  # year end, and Dec 31–Jan 3 holidays do not matter
        (date(2025, 4, 30), (2025, 5, 7)),  # Golden Week holidays do not move it
        (date(2025, 3, 9), (2025, 3, 16)),  # the US DST switch day: Japan has none
        (date(2025, 11, 2), (2025, 11, 9)),
    ],
)
def test_business_deadline_table(visit: date, expected_day: tuple[int, int, int]) -> None:
    authorized_at = jst(2025, 1, 1, 10) if visit.year == 2025 else jst(2028, 1, 10, 10)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=visit,
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=far_future_hold(authorized_at),
        mcc=None,
    )
    assert result.bound == "business"
    assert result.business_deadline == end_of_day_jst(*expected_day)
    assert result.at == result.business_deadline


def test_deadline_is_always_14_59_utc_because_japan_has_no_dst() -> None:
    authorized_at = jst(2025, 1, 1, 9)
    for offset in range(0, 365, 11):
        visit = date(2025, 1, 1) + timedelta(days=offset)
        result = capture_deadline(
            hold=AuthorizationHold.EXPIRY_DAYS,
            visit_date=visit,
            accepted_at=authorized_at,
            authorized_at=authorized_at,
            authorization_expires_at=far_future_hold(authorized_at),
            mcc=None,
        )
        utc = result.at.astimezone(UTC)
        assert (utc.hour, utc.minute, utc.second, utc.microsecond) == (14, 59, 59, 999999)
        assert result.at.utcoffset() == timedelta(0)


def test_far_future_visit_is_capped_by_the_payjp_default_hold_minus_margin() -> None:
    authorized_at = jst(2025, 6, 1, 12)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=date(2025, 9, 1),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=None,
        mcc=None,
    )
    assert result.bound == "authorization"
    assert result.authorization_deadline == authorized_at + timedelta(days=7) - timedelta(hours=12)
    assert result.at == result.authorization_deadline
    assert result.business_deadline == end_of_day_jst(2025, 9, 8)


def test_reported_payjp_expired_at_wins_over_the_default() -> None:
    authorized_at = jst(2025, 6, 1, 12)
    expired_at = payjp_expired_at(authorized_at, 60)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=date(2025, 7, 10),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=expired_at,
        mcc=None,
    )
    # 60 days covers a visit on Jul 10 + 7 days: the business bound decides
    assert result.bound == "business"
    assert result.at == end_of_day_jst(2025, 7, 17)
    assert result.authorization_deadline == expired_at - timedelta(hours=12)


def test_stripe_capture_before_is_used_when_reported() -> None:
    authorized_at = datetime(2025, 6, 1, 3, tzinfo=UTC)
    capture_before = datetime(2025, 6, 5, 3, tzinfo=UTC)  # e.g. a network with a shorter window
    result = capture_deadline(
        hold=AuthorizationHold.CARD_NETWORKS,
        visit_date=date(2025, 6, 20),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=capture_before,
        mcc="7011",  # a lodging MCC does not override what Stripe reports
    )
    assert result.bound == "authorization"
    assert result.at == datetime(2025, 6, 4, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("mcc", "hold_days"),
    [
        (None, 7),
        ("5812", 7),  # restaurants
        ("7230", 7),  # beauty salons: the platform's typical store
        ("7011", 30),  # lodging
        ("3501", 30),  # a named hotel chain
        ("3999", 30),
        ("7512", 30),  # car rental agencies
        ("3351", 30),  # a named car-rental company
        ("3500", 30),
        ("4411", 30),  # cruise lines
        ("4511", 7),  # airlines: only Discover extends, so not assumed
        ("3000", 7),
        (" 7011 ", 30),
    ],
)
def test_stripe_default_hold_by_mcc(mcc: str | None, hold_days: int) -> None:
    authorized_at = datetime(2025, 6, 1, 3, tzinfo=UTC)
    result = capture_deadline(
        hold=AuthorizationHold.CARD_NETWORKS,
        visit_date=date(2025, 12, 24),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=None,
        mcc=mcc,
    )
    assert result.bound == "authorization"
    assert result.at == authorized_at + timedelta(days=hold_days) - timedelta(hours=12)


def test_airline_mccs_can_be_opted_in_by_policy() -> None:
    policy = DeadlinePolicy(extended_hold_mccs=DEFAULT_EXTENDED_HOLD_MCCS | AIRLINE_MCCS)
    authorized_at = datetime(2025, 6, 1, 3, tzinfo=UTC)
    result = capture_deadline(
        hold=AuthorizationHold.CARD_NETWORKS,
        visit_date=date(2025, 12, 24),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=None,
        mcc="4511",
        policy=policy,
    )
    assert result.at == authorized_at + timedelta(days=30, hours=-12)


def test_tie_goes_to_business() -> None:
    authorized_at = jst(2025, 3, 1, 10)
    business = end_of_day_jst(2025, 3, 8)
    result = capture_deadline(
        hold=AuthorizationHold.CARD_NETWORKS,
        visit_date=date(2025, 3, 1),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=business + timedelta(hours=12),
        mcc=None,
    )
    assert result.bound == "business"
    assert result.at == business == result.authorization_deadline


def test_one_microsecond_earlier_authorization_bound_wins() -> None:
    authorized_at = jst(2025, 3, 1, 10)
    business = end_of_day_jst(2025, 3, 8)
    result = capture_deadline(
        hold=AuthorizationHold.CARD_NETWORKS,
        visit_date=date(2025, 3, 1),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=business + timedelta(hours=12, microseconds=-1),
        mcc=None,
    )
    assert result.bound == "authorization"
    assert result.at == business - timedelta(microseconds=1)


def test_missing_visit_date_runs_from_the_acceptance_date_in_tokyo() -> None:
    # 2025-01-31 20:00 UTC is already Feb 1 in Tokyo
    accepted_at = datetime(2025, 1, 31, 20, tzinfo=UTC)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=None,
        accepted_at=accepted_at,
        authorized_at=accepted_at,
        authorization_expires_at=far_future_hold(accepted_at),
        mcc=None,
    )
    assert result.business_deadline == end_of_day_jst(2025, 2, 8)


def test_missing_visit_and_acceptance_fall_back_to_the_authorization_day() -> None:
    authorized_at = jst(2025, 5, 1, 0, 30)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=None,
        accepted_at=None,
        authorized_at=authorized_at,
        authorization_expires_at=far_future_hold(authorized_at),
        mcc=None,
    )
    assert result.business_deadline == end_of_day_jst(2025, 5, 8)


def test_visit_before_acceptance_is_read_as_the_acceptance_date() -> None:
    accepted_at = jst(2025, 5, 10, 9)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=date(2025, 5, 1),
        accepted_at=accepted_at,
        authorized_at=accepted_at,
        authorization_expires_at=far_future_hold(accepted_at),
        mcc=None,
    )
    assert result.business_deadline == end_of_day_jst(2025, 5, 17)


def test_reminders_are_72h_and_24h_before_the_effective_deadline() -> None:
    authorized_at = jst(2025, 5, 1, 9)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=date(2025, 5, 2),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=far_future_hold(authorized_at),
        mcc=None,
    )
    assert result.reminders == (result.at - timedelta(hours=72), result.at - timedelta(hours=24))


def test_reminders_already_past_at_authorization_are_dropped() -> None:
    # same-day booking of a visit the same day, with a 1-day PAY.JP hold: deadline ~12h away
    authorized_at = jst(2025, 5, 1, 9)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=date(2025, 5, 1),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=payjp_expired_at(authorized_at, 2),
        mcc=None,
    )
    assert result.at == authorized_at + timedelta(days=2, hours=-12)
    assert result.reminders == (result.at - timedelta(hours=24),)


def test_custom_reminder_offsets_are_sorted_and_deduplicated() -> None:
    policy = DeadlinePolicy(
        reminder_offsets=(timedelta(hours=1), timedelta(hours=48), timedelta(hours=1)),
    )
    authorized_at = jst(2025, 5, 1, 9)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=date(2025, 5, 2),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=far_future_hold(authorized_at),
        mcc=None,
        policy=policy,
    )
    assert result.reminders == (result.at - timedelta(hours=48), result.at - timedelta(hours=1))


def test_unknown_provider_without_reported_validity_has_only_the_business_bound() -> None:
    authorized_at = jst(2025, 5, 1, 9)
    result = capture_deadline(
        hold=AuthorizationHold.UNKNOWN,
        visit_date=date(2025, 8, 1),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=None,
        mcc=None,
    )
    assert result.authorization_deadline is None
    assert result.bound == "business"
    assert result.at == end_of_day_jst(2025, 8, 8)


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        capture_deadline(
            hold=AuthorizationHold.EXPIRY_DAYS,
            visit_date=date(2025, 5, 1),
            accepted_at=None,
            authorized_at=datetime(2025, 5, 1, 9),
            authorization_expires_at=None,
            mcc=None,
        )


def test_result_is_serializable_for_the_workflow_input() -> None:
    authorized_at = jst(2025, 5, 1, 9)
    result = capture_deadline(
        hold=AuthorizationHold.EXPIRY_DAYS,
        visit_date=date(2025, 5, 2),
        accepted_at=authorized_at,
        authorized_at=authorized_at,
        authorization_expires_at=None,
        mcc=None,
    )
    assert CaptureDeadline.model_validate_json(result.model_dump_json()) == result


@pytest.mark.parametrize("days", [1, 7, 30, 60])
def test_payjp_expired_at_accepts_1_to_60_days(days: int) -> None:
    authorized_at = datetime(2025, 1, 31, 15, tzinfo=UTC)
    assert payjp_expired_at(authorized_at, days) == authorized_at + timedelta(days=days)


def test_payjp_expired_at_defaults_to_7_days() -> None:
    authorized_at = datetime(2025, 1, 31, 15, tzinfo=UTC)
    assert payjp_expired_at(authorized_at) == datetime(2025, 2, 7, 15, tzinfo=UTC)


@pytest.mark.parametrize("days", [0, -1, 61, 365])
def test_payjp_expired_at_rejects_out_of_range_days(days: int) -> None:
    with pytest.raises(InvalidExpiryDays):
        payjp_expired_at(datetime(2025, 1, 1, tzinfo=UTC), days)


def test_policy_rejects_non_positive_reminder_offsets() -> None:
    with pytest.raises(ValueError, match="positive"):
        DeadlinePolicy(reminder_offsets=(timedelta(0),))
