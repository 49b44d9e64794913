"""Properties of the effective deadline that hold for every input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from cardops.payments.domain.capture_deadline import (
    AuthorizationHold,
    DeadlinePolicy,
    authorization_validity,
    capture_deadline,
)

instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.just(UTC),
)
rules = st.sampled_from([AuthorizationHold.EXPIRY_DAYS, AuthorizationHold.CARD_NETWORKS])
mccs = st.one_of(st.none(), st.sampled_from(["7011", "7512", "4411", "4511", "5812", "3400", "0000"]))
policies = st.builds(
    DeadlinePolicy,
    safety_margin=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
    reminder_offsets=st.lists(
        st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=10)), max_size=4
    ).map(tuple),
)


@given(
    rule=rules,
    authorized_at=instants,
    visit_offset=st.one_of(st.none(), st.integers(min_value=-30, max_value=400)),
    accepted_before=st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))),
    hold=st.one_of(st.none(), st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=60))),
    mcc=mccs,
    policy=policies,
)
def test_deadline_never_after_either_bound(
    rule: AuthorizationHold,
    authorized_at: datetime,
    visit_offset: int | None,
    accepted_before: timedelta | None,
    hold: timedelta | None,
    mcc: str | None,
    policy: DeadlinePolicy,
) -> None:
    visit: date | None = None if visit_offset is None else authorized_at.date() + timedelta(days=visit_offset)
    accepted_at = None if accepted_before is None else authorized_at - accepted_before
    expires_at = None if hold is None else authorized_at + hold
    result = capture_deadline(
        hold=rule,
        visit_date=visit,
        accepted_at=accepted_at,
        authorized_at=authorized_at,
        authorization_expires_at=expires_at,
        mcc=mcc,
        policy=policy,
    )
    validity = authorization_validity(
        hold=rule,
        authorized_at=authorized_at,
        authorization_expires_at=expires_at,
        mcc=mcc,
        policy=policy,
    )
    assert validity is not None  # both rules always know the hold
    assert result.at <= validity - policy.safety_margin
    assert result.at <= result.business_deadline
    assert result.at == min(result.business_deadline, validity - policy.safety_margin)
    if result.bound == "business":
        assert result.at == result.business_deadline
    else:
        assert result.authorization_deadline is not None
        assert result.at == result.authorization_deadline < result.business_deadline
    assert all(authorized_at < r < result.at for r in result.reminders)
    assert list(result.reminders) == sorted(set(result.reminders))
    assert result.at.utcoffset() == timedelta(0)
