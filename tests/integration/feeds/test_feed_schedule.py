"""The schedule over Golden Week and Silver Week 2026 (SPEC §7): each day runs or skips as the
calendar says, and the first run after picks up every file delivered meanwhile (watermark)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from cardops.feeds.domain.formats import STANDARD_COLUMNS
from cardops.feeds.domain.schedule import scheduled_at
from cardops.feeds.wiring import feed_sync
from cardops.kernel.calendar import TOKYO
from tests.integration.feeds.conftest import Feeds

HEADER = ",".join(STANDARD_COLUMNS) + "\n"


def statement(day: date, count: int = 2) -> bytes:
    rows = [
        f"D{day:%m%d}-{n},{day:%Y/%m/%d},{day:%Y/%m/%d},LK0001,S0001,ヤマダ タロウ,"
        f"1234,店{n},{100 + n},,,{n},法人\n"
        for n in range(count)
    ]
    return (HEADER + "".join(rows)).encode("cp932")


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _simulate(feeds: Feeds, first: date, last: date) -> dict[date, dict[str, Any]]:
    """Deliver a file every day at 03:00 and 18:00 JST; run the schedule every day at 06:00."""
    feeds.setup_tenant("t1")
    sync = feed_sync()
    results: dict[date, dict[str, Any]] = {}
    for day in _days(first, last):
        early = datetime.combine(day, time(3, 0), tzinfo=TOKYO)
        feeds.deliver("t1", "generic", f"{day:%Y%m%d}-early.csv", statement(day), at=early)
        summary = sync.run(day, scheduled_at(day))
        results[day] = summary.model_dump(mode="json")
        late = datetime.combine(day, time(18, 0), tzinfo=TOKYO)
        feeds.deliver(
            "t1", "generic", f"{day:%Y%m%d}-late.csv", statement(day + timedelta(days=100)), at=late
        )
    return results


def _files(result: dict[str, Any]) -> int:
    return int(result["files_total"])


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (
            date(2026, 4, 28),
            date(2026, 5, 7),
            {
                date(2026, 4, 28): "completed",
                date(2026, 4, 29): "skipped_holiday",  # 昭和の日
                date(2026, 4, 30): "completed",
                date(2026, 5, 1): "completed",
                date(2026, 5, 2): "skipped_weekend",
                date(2026, 5, 3): "skipped_weekend",  # 憲法記念日 on a Sunday
                date(2026, 5, 4): "skipped_holiday",  # みどりの日
                date(2026, 5, 5): "skipped_holiday",  # こどもの日
                date(2026, 5, 6): "skipped_holiday",  # 振替休日
                date(2026, 5, 7): "completed",
            },
        ),
        (
            date(2026, 9, 17),
            date(2026, 9, 24),
            {
                date(2026, 9, 17): "completed",
                date(2026, 9, 18): "completed",
                date(2026, 9, 19): "skipped_weekend",
                date(2026, 9, 20): "skipped_weekend",
                date(2026, 9, 21): "skipped_holiday",  # 敬老の日
                date(2026, 9, 22): "skipped_holiday",  # 国民の休日
                date(2026, 9, 23): "skipped_holiday",  # 秋分の日
                date(2026, 9, 24): "completed",
            },
        ),
    ],
    ids=["golden-week-2026", "silver-week-2026"],
)
def test_holiday_weeks(feeds: Feeds, first: date, last: date, expected: dict[date, str]) -> None:
    results = _simulate(feeds, first, last)
    assert {day: r["status"] for day, r in results.items()} == expected
    for day, result in results.items():
        if result["status"].startswith("skipped"):
            assert result["lines_read"] == 0 and result["next_sync_date"] > day.isoformat()
    # The first run after the holidays takes every file delivered since the last run.
    runs = [day for day, r in results.items() if r["status"] == "completed"]
    last_run = runs[-1]
    previous_run = runs[-2]
    delivered_between = 1 + 2 * (last_run - previous_run).days - 1  # late of previous .. early of last
    assert _files(results[last_run]) == delivered_between
    assert results[last_run]["lines_read"] == 2 * delivered_between
    assert results[last_run]["matched"] == 2 * delivered_between
    # every file delivered in the whole period was read exactly once
    total = sum(_files(r) for r in results.values() if r["status"] == "completed")
    first_run = runs[0]
    assert total == 2 * (last_run - first_run).days + 1
    recorded = feeds.ok("GET", f"/admin/feeds/runs?business_date={last_run.isoformat()}")
    assert recorded[-1]["status"] == "completed"
    skipped = next(d for d, s in expected.items() if s == "skipped_holiday")
    assert feeds.ok("GET", f"/admin/feeds/runs?business_date={skipped.isoformat()}")[-1]["holiday_name"]


def test_failed_run_loses_nothing(feeds: Feeds, monkeypatch: pytest.MonkeyPatch) -> None:
    feeds.setup_tenant("t1")
    day1, day2 = date(2026, 6, 1), date(2026, 6, 2)
    feeds.deliver("t1", "generic", "a.csv", statement(day1), at=datetime.combine(day1, time(3), tzinfo=TOKYO))
    sync = feed_sync()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(sync, "_link_refunds", broken)
    with pytest.raises(RuntimeError):
        sync.run(day1, scheduled_at(day1))
    monkeypatch.undo()
    feeds.deliver("t1", "generic", "b.csv", statement(day2), at=datetime.combine(day2, time(3), tzinfo=TOKYO))
    result = feed_sync().run(day2, scheduled_at(day2))
    assert result.status == "completed"
    assert result.window_after is None  # the failed run moved no watermark
    # a.csv's lines were stored (and the file marked read) before the failure: not read twice
    assert result.files_total == 1 and result.matched == 2 and result.duplicates == 0
    lines = feeds.ok("GET", "/admin/tenants/t1/employees/E001/card-lines")
    assert {line["usage_date"] for line in lines} == {day1.isoformat(), day2.isoformat()}
