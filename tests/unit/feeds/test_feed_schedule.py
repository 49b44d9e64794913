from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardops.feeds.domain.schedule import (
    DeliveredFile,
    SyncWindow,
    decide_sync,
    files_for_run,
    next_scheduled_sync,
    next_sync_date,
    scheduled_at,
    sync_window,
)

GOLDEN_WEEK_2026 = [
    (date(2026, 4, 28), "run", None),
    (date(2026, 4, 29), "skipped_holiday", "Showa Day"),
    (date(2026, 4, 30), "run", None),
    (date(2026, 5, 1), "run", None),
    (date(2026, 5, 2), "skipped_weekend", None),
    (date(2026, 5, 3), "skipped_weekend", "Constitution Day"),  # a Sunday holiday
    (date(2026, 5, 4), "skipped_holiday", "Greenery Day"),
    (date(2026, 5, 5), "skipped_holiday", "Children's Day"),
    (date(2026, 5, 6), "skipped_holiday", "Substitute Holiday"),  # 振替休日 for 5/3
    (date(2026, 5, 7), "run", None),
]
SILVER_WEEK_2026 = [
    (date(2026, 9, 18), "run", None),
    (date(2026, 9, 19), "skipped_weekend", None),
    (date(2026, 9, 20), "skipped_weekend", None),
    (date(2026, 9, 21), "skipped_holiday", "Respect for the Aged Day"),
    (date(2026, 9, 22), "skipped_holiday", "National Holiday"),  # 国民の休日 between two holidays
    (date(2026, 9, 23), "skipped_holiday", "Autumnal Equinox Day"),
    (date(2026, 9, 24), "run", None),
]


@pytest.mark.parametrize(("day", "action", "holiday"), GOLDEN_WEEK_2026 + SILVER_WEEK_2026)
def test_decisions_through_golden_and_silver_week_2026(day: date, action: str, holiday: str | None) -> None:
    decision = decide_sync(day)
    assert decision.action == action
    assert decision.holiday_name == holiday
    assert decision.runs == (action == "run")
    assert decision.status_if_successful == ("completed" if action == "run" else action)


def test_next_sync_date_jumps_the_holidays() -> None:
    assert next_sync_date(date(2026, 5, 1)) == date(2026, 5, 7)
    assert next_sync_date(date(2026, 4, 28)) == date(2026, 4, 30)
    assert next_sync_date(date(2026, 9, 18)) == date(2026, 9, 24)
    assert decide_sync(date(2026, 9, 22)).next_sync_date == date(2026, 9, 24)


def test_next_scheduled_sync_respects_the_time_of_day() -> None:
    thursday = date(2026, 5, 7)
    six_tokyo = scheduled_at(thursday)
    assert six_tokyo == datetime(2026, 5, 6, 21, 0, tzinfo=UTC)
    assert next_scheduled_sync(six_tokyo - timedelta(minutes=1)) == thursday
    assert next_scheduled_sync(six_tokyo) == date(2026, 5, 8)
    assert next_scheduled_sync(scheduled_at(date(2026, 5, 2), time(12))) == thursday
    assert next_scheduled_sync(six_tokyo, sync_time=time(9)) == thursday


def _files(*hours: int) -> list[DeliveredFile]:
    base = datetime(2026, 5, 1, tzinfo=UTC)
    return [DeliveredFile(key=f"f{h}.csv", received_at=base + timedelta(hours=h)) for h in hours]


def test_watermark_takes_everything_since_the_last_success() -> None:
    files = _files(1, 30, 50, 80, 130)
    base = datetime(2026, 5, 1, tzinfo=UTC)
    last_success = base + timedelta(hours=30)  # a file received exactly then was taken already
    window = sync_window(last_success, base + timedelta(hours=100))
    assert [f.key for f in files_for_run(files, window)] == ["f50.csv", "f80.csv"]
    assert window.watermark_on_success == base + timedelta(hours=100)
    first = sync_window(None, base + timedelta(hours=100))
    assert [f.key for f in files_for_run(reversed(files), first)] == [
        "f1.csv",
        "f30.csv",
        "f50.csv",
        "f80.csv",
    ]


def test_window_cannot_run_backwards() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="before it starts"):
        SyncWindow(after=now, until=now - timedelta(seconds=1))


@given(
    st.lists(st.integers(min_value=0, max_value=500), max_size=30),
    st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=6),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_runs_with_failures_take_every_file_exactly_once_when_they_succeed(
    hours: list[int], run_hours: list[int], succeeded: list[bool]
) -> None:
    """Whatever runs fail, successful runs together take every file up to the last success, once."""
    files = _files(*hours)
    base = datetime(2026, 5, 1, tzinfo=UTC)
    watermark: datetime | None = None
    taken: list[str] = []
    for run_hour, ok in zip(sorted(run_hours), succeeded, strict=False):
        window = sync_window(watermark, base + timedelta(hours=run_hour))
        if ok:
            taken += [f.key for f in files_for_run(files, window)]
            watermark = window.watermark_on_success
    expected = [f.key for f in files if watermark is not None and f.received_at <= watermark]
    assert sorted(taken) == sorted(expected)
