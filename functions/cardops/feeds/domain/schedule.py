"""When the feed sync runs and which delivered files a run takes (SPEC §7, §8 contract 7).

The sync runs once per business day (Mon–Fri, not on Japanese public holidays) at a configurable
time, 06:00 Asia/Tokyo by default. On other days a run is a recorded skip, not a failure. A run
takes every file received after the last *successful* run's watermark up to its own start, so
nothing is lost over weekends, holidays or a failed run, and re-running takes the same files again
(deduplication by line identity makes that harmless).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from cardops.kernel.calendar import (
    TOKYO,
    holiday_name,
    is_business_day,
    is_weekend,
    next_business_day,
    tokyo_date,
)

DEFAULT_SYNC_TIME = time(6, 0)

SyncAction = Literal["run", "skipped_weekend", "skipped_holiday"]
#: The ``status`` of a sync summary (SPEC §8 contract 7).
SyncStatus = Literal["completed", "skipped_weekend", "skipped_holiday"]


class SyncDecision(BaseModel):
    """What the schedule does on a business date, and when it next runs."""

    model_config = ConfigDict(frozen=True)

    business_date: date
    action: SyncAction
    #: The holiday's name on a holiday skip (also given when a weekend day is a holiday).
    holiday_name: str | None = None
    next_sync_date: date

    @property
    def runs(self) -> bool:
        return self.action == "run"

    @property
    def status_if_successful(self) -> SyncStatus:
        """The summary status the day ends with when the run (if any) succeeds."""
        return "completed" if self.action == "run" else self.action


def next_sync_date(after: date) -> date:
    """The first sync day strictly after ``after``."""
    return next_business_day(after)


def decide_sync(business_date: date) -> SyncDecision:
    """Run on business days; a weekend is ``skipped_weekend`` (before any holiday falling on it)."""
    name = holiday_name(business_date)
    action: SyncAction
    if is_weekend(business_date):
        action = "skipped_weekend"
    elif not is_business_day(business_date):
        action = "skipped_holiday"
    else:
        action = "run"
    return SyncDecision(
        business_date=business_date,
        action=action,
        holiday_name=name,
        next_sync_date=next_sync_date(business_date),
    )


def scheduled_at(business_date: date, sync_time: time = DEFAULT_SYNC_TIME) -> datetime:
    """The instant (UTC) of a business date's scheduled run at ``sync_time`` Asia/Tokyo."""
    return datetime.combine(business_date, sync_time, tzinfo=TOKYO).astimezone(UTC)


def next_scheduled_sync(now: datetime, sync_time: time = DEFAULT_SYNC_TIME) -> date:
    """The business date of the next scheduled run that has not started yet at ``now``."""
    today = tokyo_date(now)
    if is_business_day(today) and now < scheduled_at(today, sync_time):
        return today
    return next_sync_date(today)


class DeliveredFile(BaseModel):
    """A statement file as delivered (an S3 object): where it is and when it arrived."""

    model_config = ConfigDict(frozen=True)

    key: str
    received_at: AwareDatetime


class SyncWindow(BaseModel):
    """The files a run takes: received after ``after`` (exclusive) and up to ``until`` (inclusive)."""

    model_config = ConfigDict(frozen=True)

    after: AwareDatetime | None
    until: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> SyncWindow:
        if self.after is not None and self.after > self.until:
            raise ValueError("a sync window cannot end before it starts")
        return self

    def takes(self, file: DeliveredFile) -> bool:
        return (self.after is None or file.received_at > self.after) and file.received_at <= self.until

    @property
    def watermark_on_success(self) -> datetime:
        """What the run records as the new watermark, only when it succeeds."""
        return self.until


def sync_window(last_success_watermark: datetime | None, now: datetime) -> SyncWindow:
    """Everything since the last successful run, up to this run's start.

    A failed run records no watermark, so the next run's window still starts at the last success.
    """
    return SyncWindow(after=last_success_watermark, until=now)


def files_for_run(files: Iterable[DeliveredFile], window: SyncWindow) -> list[DeliveredFile]:
    """The delivered files a run takes, oldest first (ties by key), so line order is reproducible."""
    return sorted((f for f in files if window.takes(f)), key=lambda f: (f.received_at, f.key))
