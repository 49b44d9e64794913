"""When the payments janitor next asks the provider about an open payment (issue 11 item 4).

A pending or authorized payment waits for the provider's webhook. If nothing arrives within the
quiet period the webhook may be lost, so the janitor re-fetches the payment; each check that finds
nothing new doubles the wait, up to a cap, so an authorization that stays open for weeks costs a
few checks a day rather than one per run. Any change to the payment starts over from the quiet
period: something happened, so the next webhook is expected again soon.

The wait is spread by a small jitter fixed per payment and check, so payments opened together
(or migrated together) do not come due in one burst, and a re-run computes the same time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cardops.payments.domain.payments import Payment, PaymentStatus

#: the statuses in which the provider still owes us a webhook
AWAITING_PROVIDER = frozenset({PaymentStatus.PENDING, PaymentStatus.AUTHORIZED})


def awaits_provider(payment: Payment) -> bool:
    return payment.status in AWAITING_PROVIDER


def _fraction(key: str, checks: int) -> float:
    """A stable number in [0, 1) for this payment and check: the jitter without a random source."""
    digest = hashlib.sha256(f"{key}#{checks}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class DueCheckPolicy:
    #: payments changed more recently than this are left to their webhooks, which may be in flight
    quiet: timedelta = timedelta(minutes=15)
    #: the longest wait between two checks of a payment nothing happens to
    cap: timedelta = timedelta(hours=6)
    #: each wait is lengthened by up to this fraction of itself
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.quiet <= timedelta(0) or self.cap < self.quiet or not 0 <= self.jitter < 1:
            raise ValueError("a due-check policy needs 0 < quiet <= cap and 0 <= jitter < 1")

    def interval(self, checks: int) -> timedelta:
        """The wait after ``checks`` checks that found nothing (0: after a change)."""
        if checks >= 32:  # 2**32 quiet periods are far past any cap
            return self.cap
        return min(self.quiet * (1 << checks), self.cap)

    def next_check(self, *, since: datetime, checks: int, key: str) -> datetime:
        """When to check next: ``since`` (the change or the last check) plus the jittered wait."""
        if since.tzinfo is None:
            raise ValueError("due times are timezone-aware")
        wait = self.interval(checks)
        return since + wait + wait * (self.jitter * _fraction(key, checks))

    def is_due(self, next_check_at: datetime, now: datetime) -> bool:
        return next_check_at <= now


POLICY = DueCheckPolicy()


@dataclass(frozen=True)
class DueRef:
    """A payment the scheduler found due, as it travels to the worker."""

    provider: str
    payment_id: str

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.payment_id}"


@dataclass(frozen=True)
class DueState:
    """What the worker reads before a check: the payment, when it is due and how often it was checked."""

    payment: Payment
    next_check_at: datetime
    checks: int
    #: the payment's index entry as read (opaque): a reschedule applies only while it is unchanged
    index_key: str = ""


@dataclass(frozen=True)
class RunCheckpoint:
    """Where a scheduler run is: every shard before ``shard`` is enqueued, and ``shard`` up to ``start``.

    Saved after each page, so a run that times out resumes from the page it stopped at, with the
    same cutoff (a payment that came due since then is the next run's). ``seq`` orders the saves:
    two invocations at once cannot both advance it.
    """

    run_id: str
    cutoff: datetime
    shard: int = 0
    #: the index position to continue from (DynamoDB's ``LastEvaluatedKey``), None at a shard's start
    start: dict[str, Any] | None = None
    enqueued: int = 0
    pages: int = 0
    finished: bool = False
    seq: int = 0
