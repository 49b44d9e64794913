"""The business clock: real UTC time, which the local sandbox may move forward.

Only business decisions read it (deadlines, payouts, schedules). Signature freshness checks use
the wall clock, because the provider signs with its own.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_lock = threading.Lock()


def now() -> datetime:
    return datetime.now(UTC) + _offset


def advance(delta: timedelta) -> datetime:
    """Move the sandbox clock forward (never back: time-based workflows only wait forward)."""
    global _offset
    if delta < timedelta(0):
        raise ValueError("the clock only moves forward")
    with _lock:
        _offset += delta
    return now()


def offset() -> timedelta:
    return _offset


def reset() -> None:
    global _offset
    with _lock:
        _offset = timedelta(0)
