"""The sandbox schedule fires weekdays at 06:00 Tokyo on the sandbox clock, once per instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cardops.sandbox.feed_schedule import FeedSchedule, next_fire


def test_next_fire_skips_weekends_and_past_times() -> None:
    # Friday 2026-05-08 07:00 JST → Monday 2026-05-11 06:00 JST (21:00 UTC on Sunday)
    assert next_fire(datetime(2026, 5, 7, 22, tzinfo=UTC)) == datetime(2026, 5, 10, 21, tzinfo=UTC)
    # Thursday 05:59 JST → the same morning
    assert next_fire(datetime(2026, 5, 6, 20, 59, tzinfo=UTC)) == datetime(2026, 5, 6, 21, tzinfo=UTC)


def test_schedule_fires_each_weekday_once_with_the_scheduled_time() -> None:
    now = [datetime(2026, 5, 1, 0, tzinfo=UTC)]  # Friday 09:00 JST
    calls: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        return {"status": "ok"}

    schedule = FeedSchedule(handler, lambda: now[0], None)
    schedule.tick()
    assert calls == []
    now[0] += timedelta(days=7)  # through Golden Week to the next Friday 09:00 JST
    schedule.tick()
    schedule.tick()
    fired = [event["scheduled_time"] for event in calls]
    assert fired == [
        f"2026-05-{day:02d}T21:00:00+00:00" for day in (3, 4, 5, 6, 7)
    ]  # Mon 5/4 … Fri 5/8 06:00 JST; the handler records 5/4–5/6 as holiday skips
