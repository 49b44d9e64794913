"""The sandbox's weekday feed schedule: what EventBridge Scheduler does in a deployed stack.

Fires the feed-sync handler at the configured time (06:00 Asia/Tokyo by default) on every Mon–Fri,
with the same payload (``scheduled_time``) the deployed schedule sends; the handler itself records
a holiday as a skip. Time is the sandbox clock, so ``cardops sandbox advance`` moves the schedule
too. Each scheduled instant fires once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cardops.feeds.domain.schedule import DEFAULT_SYNC_TIME
from cardops.kernel.calendar import TOKYO, is_weekend, tokyo_date

Handler = Callable[[dict[str, Any], Any], Any]


def next_fire(after: datetime, sync_time: time = DEFAULT_SYNC_TIME) -> datetime:
    """The first weekday ``sync_time`` (Tokyo) strictly after ``after``, as UTC."""
    day: date = tokyo_date(after)
    while True:
        moment = datetime.combine(day, sync_time, tzinfo=TOKYO).astimezone(UTC)
        if not is_weekend(day) and moment > after:
            return moment
        day += timedelta(days=1)


class FeedSchedule:
    def __init__(
        self,
        handler: Handler,
        now: Callable[[], datetime],
        context: Any,
        *,
        sync_time: time = DEFAULT_SYNC_TIME,
        poll_seconds: float = 1.0,
    ) -> None:
        self._handler = handler
        self._now = now
        self._context = context
        self._sync_time = sync_time
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.next_at = next_fire(now(), sync_time)
        self.fired: list[dict[str, Any]] = []

    def tick(self) -> None:
        """Fire every scheduled instant that the clock has passed (at most once each)."""
        while self._now() >= self.next_at:
            event = {"scheduled_time": self.next_at.isoformat()}
            try:
                self.fired.append(self._handler(event, self._context))
            except Exception as exc:  # a failed run is retried by the next one (watermark)
                self.fired.append({"scheduled_time": event["scheduled_time"], "error": str(exc)})
            self.next_at = next_fire(self.next_at, self._sync_time)

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            self.tick()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="feed-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_feed_schedule(function_name: str) -> Callable[[], None]:
    """Start the schedule on the sandbox clock with the real handler; returns its stop.

    The embedded S3 stamps deliveries (``LastModified``) from the same sandbox clock, so advancing
    the clock cannot leave files behind the sync watermark.
    """
    import moto.s3.models

    from cardops.handlers.feed_sync import handler
    from cardops.kernel import clock
    from cardops.sandbox.lambda_runner import FakeContext, run_as

    moto.s3.models.utcnow = lambda: clock.now().replace(tzinfo=None)  # type: ignore[attr-defined]

    schedule = FeedSchedule(run_as("feed_sync", handler), clock.now, FakeContext(function_name=function_name))
    schedule.start()
    return schedule.stop
