"""What one wake-up of the capture-deadline workflow does, and when it wakes next (``due_at``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardops.payments.domain.capture_deadline import Due, due_at

H = timedelta(hours=1)
DEADLINE = datetime(2026, 3, 10, 14, 59, 59, 999999, tzinfo=UTC)
OFFSETS = (72 * H, 24 * H)


def test_started_long_before_waits_for_the_first_reminder() -> None:
    start = DEADLINE - 10 * 24 * H
    assert due_at(DEADLINE, now=start, since=start, offsets=OFFSETS) == Due(next_at=DEADLINE - 72 * H)


def test_a_punctual_wake_sends_its_reminder_and_names_the_next() -> None:
    due = due_at(DEADLINE, now=DEADLINE - 72 * H + timedelta(seconds=1), since=DEADLINE - 9 * 24 * H,
                 offsets=OFFSETS)  # fmt: skip
    assert due == Due(reminder=72 * H, next_at=DEADLINE - 24 * H)
    due = due_at(DEADLINE, now=DEADLINE - 24 * H + timedelta(seconds=1), since=DEADLINE - 72 * H,
                 offsets=OFFSETS)  # fmt: skip
    assert due == Due(reminder=24 * H, next_at=DEADLINE)


def test_after_the_deadline_only_the_expiry_is_due() -> None:
    due = due_at(DEADLINE, now=DEADLINE + timedelta(seconds=1), since=DEADLINE - 25 * H, offsets=OFFSETS)
    assert due == Due(expire=True)


def test_a_reminder_whose_time_passed_before_the_start_is_not_sent() -> None:
    start = DEADLINE - 30 * H  # authorized inside the 72 h window
    assert due_at(DEADLINE, now=start, since=start, offsets=OFFSETS) == Due(next_at=DEADLINE - 24 * H)


def test_a_late_wake_sends_only_the_most_urgent_reminder() -> None:
    due = due_at(DEADLINE, now=DEADLINE - 2 * H, since=DEADLINE - 100 * H, offsets=OFFSETS)
    assert due == Due(reminder=24 * H, next_at=DEADLINE)


def test_a_deadline_moved_later_sends_nothing_until_its_own_reminders() -> None:
    moved = DEADLINE + 96 * H  # a re-authorization while the execution waited for the old 24 h
    due = due_at(moved, now=DEADLINE - 23 * H, since=DEADLINE - 100 * H, offsets=OFFSETS)
    assert due == Due(next_at=moved - 72 * H)


def test_no_reminders_configured_waits_for_the_deadline() -> None:
    start = DEADLINE - 9 * 24 * H
    assert due_at(DEADLINE, now=start, since=start, offsets=()) == Due(next_at=DEADLINE)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(DEADLINE, now=datetime(2026, 3, 1), since=DEADLINE - 9 * 24 * H, offsets=OFFSETS)


instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
offset_sets = st.lists(
    st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=10)), max_size=4
).map(tuple)
lateness = st.lists(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3)),
                    min_size=12, max_size=12)  # fmt: skip


def _run(deadline: datetime, start: datetime, offsets: tuple[timedelta, ...], late: list[timedelta]) -> Any:
    """Every wake-up of one execution: it wakes ``late[i]`` after each ``next_at`` it was given."""
    wakes: list[tuple[datetime, Due]] = []
    since = now = start
    for delay in late:
        due = due_at(deadline, now=now, since=since, offsets=offsets)
        wakes.append((now, due))
        if due.expire:
            return wakes
        assert due.next_at is not None
        since, now = now, due.next_at + delay
    raise AssertionError("the execution never reached its deadline")


@given(deadline=instants, before=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
       offsets=offset_sets, late=lateness)  # fmt: skip
def test_never_wakes_after_the_deadline_and_never_reminds_twice(
    deadline: datetime, before: timedelta, offsets: tuple[timedelta, ...], late: list[timedelta]
) -> None:
    wakes = _run(deadline, deadline - before, offsets, late)
    for now, due in wakes:
        if not due.expire:
            assert due.next_at is not None and now <= due.next_at <= deadline
    sent = [due.reminder for _, due in wakes if due.reminder is not None]
    assert len(sent) == len(set(sent))
    assert [due.expire for _, due in wakes].count(True) == 1 and wakes[-1][1].expire
    for now, due in wakes:
        if due.reminder is not None:
            assert deadline - due.reminder <= now <= deadline  # never early, never after the deadline


@given(deadline=instants, before=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
       offsets=offset_sets)  # fmt: skip
def test_punctual_wakes_send_every_reminder_after_the_start_once_in_order(
    deadline: datetime, before: timedelta, offsets: tuple[timedelta, ...]
) -> None:
    start = deadline - before
    wakes = _run(deadline, start, offsets, [timedelta(microseconds=1)] * 12)
    expected = sorted({o for o in offsets if deadline - o > start}, reverse=True)
    assert [due.reminder for _, due in wakes if due.reminder is not None] == expected
    # one wake-up per reminder, then the deadline's
    assert len(wakes) == 1 + len(expected) + 1
