"""When the payments janitor asks the provider about an open payment (issue 11 item 4, issue 13).

A pending or authorized payment waits for the provider's webhook. If nothing arrives within the
quiet period the webhook may be lost, so the janitor re-fetches the payment; each later check waits
twice as long as the one before, up to a cap, so an authorization that stays open for weeks costs a
few checks a day rather than one per run. Any change to the payment starts over from the quiet
period: something happened, so the next webhook is expected again soon.

An authorized payment waits longer between checks (``cap_authorized``, 24 h, against 6 h while
pending): it owes us no webhook of its own — the next step is the store's capture, through us —
and when its deadline comes, ``capture.expire`` re-fetches the charge before releasing anything
and records a capture made behind our back. So a lost webhook of an authorization costs at most a
day's delay, and an authorization open for two days costs 7 checks rather than 11.

The schedule is a pure function of the payment's last change, so a check that finds nothing writes
nothing: the payment write sets its **anchor** once (the change time plus a jitter fixed per
payment, from its key's hash, so payments opened together still come due spread out), and its k-th
check is due at ``anchor + offsets(schedule)[k]``, the offsets being the cumulative waits (quiet,
doubling, capped per ``Schedule``) up to ``horizon``, the longest an authorization can hold. These
are the waits of the schedule that moved a next-check time after every check, less the per-check
jitter (the anchor's jitter spreads every check of a payment alike). The scheduler finds the
checks due in its window (``window_ranges``) by range reads of the anchors; nothing counts checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from cardops.payments.domain.capture_deadline import LONGEST_AUTHORIZATION
from cardops.payments.domain.payments import Payment, PaymentStatus

#: the statuses in which the provider still owes us a webhook
AWAITING_PROVIDER = frozenset({PaymentStatus.PENDING, PaymentStatus.AUTHORIZED})


def awaits_provider(payment: Payment) -> bool:
    return payment.status in AWAITING_PROVIDER


class Schedule(StrEnum):
    """Which offsets a payment's checks follow: the due index keeps each in partitions of its own."""

    #: the provider owes the authorization's outcome: checked up to every ``cap``
    PENDING = "pending"
    #: the store acts next: checked up to every ``cap_authorized``
    AUTHORIZED = "authorized"


def schedule_of(payment: Payment) -> Schedule:
    return Schedule.AUTHORIZED if payment.status is PaymentStatus.AUTHORIZED else Schedule.PENDING


def _fraction(key: str) -> float:
    """A stable number in [0, 1) for this payment: the jitter without a random source."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class DueRange:
    """The anchors whose check ``k`` is the latest one due in a window: ``after < anchor <= until``."""

    k: int
    after: datetime
    until: datetime


@dataclass(frozen=True)
class DueCheckPolicy:
    #: payments changed more recently than this are left to their webhooks, which may be in flight
    quiet: timedelta = timedelta(minutes=15)
    #: the longest wait between two checks of a pending payment nothing happens to
    cap: timedelta = timedelta(hours=6)
    #: the same for an authorized payment: it owes no webhook, and its expiry re-fetches it first
    cap_authorized: timedelta = timedelta(hours=24)
    #: the anchor is later than the change by up to this fraction of the quiet period
    jitter: float = 0.1
    #: no check is due later than this after the anchor (the longest an authorization holds)
    horizon: timedelta = field(default=LONGEST_AUTHORIZATION)

    def __post_init__(self) -> None:
        if (
            self.quiet <= timedelta(0)
            or self.cap < self.quiet
            or self.cap_authorized < self.quiet
            or not 0 <= self.jitter < 1
            or self.horizon < self.quiet
        ):
            raise ValueError(
                "a due-check policy needs 0 < quiet <= cap, cap_authorized, horizon and 0 <= jitter < 1"
            )

    def interval(self, checks: int, schedule: Schedule = Schedule.PENDING) -> timedelta:
        """The wait after ``checks`` checks that found nothing (0: after a change)."""
        cap = self.cap_authorized if schedule is Schedule.AUTHORIZED else self.cap
        if checks >= 32:  # 2**32 quiet periods are far past any cap
            return cap
        return min(self.quiet * (1 << checks), cap)

    def offsets(self, schedule: Schedule) -> tuple[timedelta, ...]:
        """When each check is due after the anchor: the cumulative waits, up to the horizon."""
        return _offsets(self, schedule)

    def anchor(self, *, changed_at: datetime, key: str) -> datetime:
        """The time a payment changed at ``changed_at`` counts its checks from (its jitter added)."""
        if changed_at.tzinfo is None:
            raise ValueError("due times are timezone-aware")
        return changed_at + self.quiet * (self.jitter * _fraction(key))

    def is_due(self, anchor: datetime, now: datetime) -> bool:
        """Whether a payment anchored at ``anchor`` has any check due by ``now`` (the first one)."""
        return anchor + self.quiet <= now

    def window_ranges(self, schedule: Schedule, since: datetime, until: datetime) -> list[DueRange]:
        """The anchor ranges to read for the checks due in ``(since, until]``, one per offset.

        Range ``k`` holds the anchors whose latest check due by ``until`` is the k-th and falls in
        the window. The ranges are disjoint, so a payment is sent at most once per window, and each
        check falls in exactly one window of a run after another: a window wider than the gaps
        between checks (a missed run) sends each payment once, for its latest check.
        """
        offsets = self.offsets(schedule)
        ranges = []
        for k, offset in enumerate(offsets):
            after = since - offset
            if k + 1 < len(offsets):
                after = max(after, until - offsets[k + 1])
            if after < until - offset:
                ranges.append(DueRange(k=k, after=after, until=until - offset))
        return ranges


@cache
def _offsets(policy: DueCheckPolicy, schedule: Schedule) -> tuple[timedelta, ...]:
    offsets = []
    at = policy.interval(0, schedule)
    while at <= policy.horizon:
        offsets.append(at)
        at += policy.interval(len(offsets), schedule)
    return tuple(offsets)


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
    """What the worker reads before a check: the payment and the anchor its checks count from."""

    payment: Payment
    anchor: datetime


@dataclass(frozen=True)
class RunCheckpoint:
    """Where a scheduler run is: the checks due in ``(since, cutoff]``, every lane (a schedule's
    shard) before ``lane`` enqueued, and ``lane`` up to check ``offset``'s range, page ``start``.

    Saved after each send (and when it stops or finishes), so a run that times out resumes from
    the page it stopped at, with the same window (a check that came due since then
    is the next run's: the next window starts at this cutoff). ``seq`` orders the saves: two
    invocations at once cannot both advance it.
    """

    run_id: str
    cutoff: datetime
    #: the window's start: the cutoff of the run before
    since: datetime
    #: the schedules' shards in order (pending 0..n-1, then authorized)
    lane: int = 0
    #: the offset (``DueCheckPolicy.offsets`` index) whose range is read next in ``lane``
    offset: int = 0
    #: the index position to continue from (DynamoDB's ``LastEvaluatedKey``), None at a range's start
    start: dict[str, Any] | None = None
    enqueued: int = 0
    pages: int = 0
    finished: bool = False
    seq: int = 0
