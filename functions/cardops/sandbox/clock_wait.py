"""Timestamp ``Wait`` states that follow the sandbox clock (``cardops.kernel.clock``).

moto's interpreter waits for a ``Timestamp``/``TimestampPath`` in real seconds. In the sandbox and
the tests, business time is ``clock.now()``, which an admin can advance (``cardops sandbox
advance 8d``): a wait for a deadline must end when the *sandbox* clock reaches it, so that a user
sees an authorization expire without waiting a week. ``Seconds`` waits are left alone.
"""

from __future__ import annotations

import threading
from datetime import UTC
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
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


def install() -> None:
    """Idempotent: every Timestamp wait in this process follows the sandbox clock."""
    with _LOCK:
        Timestamp._eval_body = _eval_body  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    with _LOCK:
        Timestamp._eval_body = _original_eval_body  # type: ignore[method-assign]
