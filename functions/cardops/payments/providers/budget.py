"""The time a waiting caller leaves for provider calls, across every attempt and backoff.

API Gateway answers 504 after 29 s whatever the function does. Per-attempt timeouts do not bound a
call (three attempts of 10 s plus backoff exceed it), so the admin function sets one deadline for
the whole request (from the Lambda context's remaining time, capped) and the provider clients stop
retrying, and shorten their socket timeouts, to finish inside it. Without a budget (workflow steps,
the processor) the clients keep their own limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import urllib3

from cardops.payments.providers.base import TransientProviderError

#: the longest an admin request spends on provider calls (API Gateway's limit is 29 s)
ADMIN_CAP_SECONDS = 25.0
#: kept back from the Lambda's remaining time to write the result and answer
ANSWER_MARGIN_SECONDS = 1.0
#: below this, another attempt cannot finish: give up instead of starting it
MIN_ATTEMPT_SECONDS = 0.05
DEADLINE_EXCEEDED = "deadline_exceeded"

_deadline: ContextVar[float | None] = ContextVar("provider_call_deadline", default=None)


@contextmanager
def call_budget(seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Provider calls inside the block finish (or give up) within ``seconds`` from now."""
    token = _deadline.set(clock() + max(seconds, 0.0))
    try:
        yield
    finally:
        _deadline.reset(token)


def for_lambda(remaining_millis: int, cap: float = ADMIN_CAP_SECONDS) -> float:
    """The budget of a request from the Lambda context's remaining time."""
    return max(min(cap, remaining_millis / 1000 - ANSWER_MARGIN_SECONDS), 0.0)


def remaining(clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds left, or None when no caller is waiting."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - clock()


def exceeded(provider: str, last_error: Exception | None) -> TransientProviderError:
    cause = f" (last: {last_error})" if last_error else ""
    return TransientProviderError(
        f"{provider} did not answer within the request's time budget{cause}; retry", code=DEADLINE_EXCEEDED
    )


def attempt_timeout(default: urllib3.Timeout, provider: str, last_error: Exception | None) -> urllib3.Timeout:
    """The socket timeout for the next attempt: the default, shortened to what is left."""
    left = remaining()
    if left is None:
        return default
    if left < MIN_ATTEMPT_SECONDS:
        raise exceeded(provider, last_error)
    connect = default.connect_timeout if isinstance(default.connect_timeout, int | float) else left
    read = default.read_timeout if isinstance(default.read_timeout, int | float) else left
    return urllib3.Timeout(connect=min(connect, left), read=min(read, left), total=left)


def allows_pause(seconds: float) -> bool:
    """Whether a backoff of ``seconds`` still leaves time for an attempt."""
    left = remaining()
    return left is None or seconds + MIN_ATTEMPT_SECONDS < left
