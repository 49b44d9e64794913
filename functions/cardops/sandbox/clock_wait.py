"""Timestamp ``Wait`` states and ``Retry`` intervals that follow the sandbox clock
(``cardops.kernel.clock``).

moto's interpreter waits for a ``Timestamp``/``TimestampPath`` in real seconds. In the sandbox and
the tests, business time is ``clock.now()``, which an admin can advance (``cardops sandbox
advance 8d``): a wait for a deadline must end when the *sandbox* clock reaches it, so that a user
sees an authorization expire without waiting a week. ``Seconds`` waits are left alone.

A task's ``Retry`` interval (the capture deadline's is up to 30 s at first, jittered) ends when it
has passed in real time or on the sandbox clock, whichever comes first: advancing the clock skips a
workflow's backoff after a provider fault as it skips a wait, and without an advance nothing changes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, timedelta
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

from cardops.kernel import clock

#: how often a waiting execution looks at the sandbox clock again
POLL_SECONDS = 0.2
_LOCK = threading.Lock()
_original_eval_body = Timestamp._eval_body


def _eval_body(self: Timestamp, env: Any) -> None:
    self.string.eval(env=env)
    raw: str = env.stack.pop()
    target = self._from_timestamp_string(timestamp=raw)
    if target is None:
        raise FailureEventException(self._create_failure_event(env, raw))
    due = target.replace(tzinfo=UTC)
    pause = threading.Event()
    while env.is_running():
        remaining = (due - clock.now()).total_seconds()
        if remaining <= 0:
            return
        pause.wait(min(remaining, POLL_SECONDS))


def retry_sleep(seconds: float) -> None:
    """A ``Retry`` interval: over once ``seconds`` have passed in real time or on the sandbox clock."""
    started = time.monotonic()
    due = clock.now() + timedelta(seconds=seconds)
    pause = threading.Event()
    while (remaining := seconds - (time.monotonic() - started)) > 0 and clock.now() < due:
        pause.wait(min(remaining, POLL_SECONDS))


class _RetrierTime:
    """The ``time`` moto's retrier sleeps on: the standard module but for :func:`retry_sleep`."""

    sleep = staticmethod(retry_sleep)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def install() -> None:
    """Idempotent: every Timestamp wait and Retry interval in this process follows the sandbox clock."""
    with _LOCK:
        Timestamp._eval_body = _eval_body  # type: ignore[method-assign,assignment]
        setattr(retrier_decl, "time", _RetrierTime())  # noqa: B010 - moto's module global


def uninstall() -> None:
    with _LOCK:
        Timestamp._eval_body = _original_eval_body  # type: ignore[method-assign]
        setattr(retrier_decl, "time", time)  # noqa: B010
