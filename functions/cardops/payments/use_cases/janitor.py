"""The payments janitor (SPEC §1, issue 11 item 4): lost webhooks repaired from the provider's view.

A webhook can be lost (the provider gave up retrying, an endpoint was misconfigured). So every
payment still awaiting the provider is re-fetched once its next check is due, and the snapshot is
applied like any event — the same merge, so a repair can never undo a newer fact. What a repair
implies (ledger, workflow start) follows from its write through the change feed, like any other
change; when the provider has nothing new, nothing is written at all: a payment's checks are due on
a schedule fixed by its last change (``domain.due_checks``), so a check leaves nothing to record.

The work is split so that it scales with what is due, not with what is open:

- the scheduler (every period) covers the window since the last run's cutoff: per schedule, shard
  and check offset one range read of the anchors whose check falls in it (``window_ranges``), page by
  page, sent in batches to a queue (a hundred payments a send, gathered across pages). It saves a
  checkpoint after each send: a run that runs out of time sends what it read, saves, and stops
  cleanly, and the next invocation resumes from the page it stopped at; a missed
  run is covered by the next window. A shard's ranges older than its earliest anchor are not read;
- the worker (one queue message at a time, concurrency bounded so providers are not flooded)
  checks each payment of a batch. A payment changed since (its first check not due yet) or no
  longer open is skipped; a duplicate message costs a read and a provider call, nothing else. A
  failed check waits for the payment's next check on its schedule.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from cardops.kernel.dynamodb import StoreUnavailable
from cardops.payments.domain.due_checks import (
    POLICY,
    DueCheckPolicy,
    DueRange,
    DueRef,
    DueState,
    RunCheckpoint,
    Schedule,
    awaits_provider,
)
from cardops.payments.domain.payments import Applied, EventKind, HistoryEntry, Payment
from cardops.payments.providers.base import PaymentProvider, ProviderError
from cardops.payments.use_cases.payment_events import Payments, apply_canonical

# --- ports -------------------------------------------------------------------------------------


class DueIndex(Protocol):
    def oldest(self, schedule: Schedule, shard: int) -> datetime | None: ...

    def page(
        self,
        schedule: Schedule,
        shard: int,
        *,
        after: datetime,
        until: datetime,
        start: dict[str, Any] | None,
        limit: int,
    ) -> tuple[list[DueRef], dict[str, Any] | None]: ...


class Checkpoints(Protocol):
    def load(self) -> RunCheckpoint | None: ...

    def save(self, checkpoint: RunCheckpoint, *, expected_seq: int | None) -> bool: ...


class CheckQueue(Protocol):
    def send(self, run_id: str, batches: Sequence[Sequence[DueRef]]) -> None: ...


class DuePayments(Protocol):
    def state(self, ref: DueRef) -> DueState | None: ...


# --- the scheduler -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulerDeps:
    index: DueIndex
    checkpoints: Checkpoints
    queue: CheckQueue
    shards: int
    #: how often the scheduler runs
    period: timedelta
    #: index entries read per query (about what one 1 MB DynamoDB page holds): the checkpoint's step
    page_size: int = 1000
    #: payments per queue message: one worker invocation's share
    batch_size: int = 10
    #: payments read before a send (and the checkpoint's save after it): ten full messages, one
    #: ``SendMessageBatch``, however the due payments spread over the ranges' pages
    send_size: int = 100
    #: a page is not started with less time than this left
    margin_seconds: float = 10.0
    policy: DueCheckPolicy = POLICY


@dataclass
class RunReport:
    run_id: str
    cutoff: str
    resumed: bool
    enqueued: int = 0
    pages: int = 0
    finished: bool = False
    #: another invocation saved the checkpoint first: it carries the run on, this one stopped
    superseded: bool = False


def _chunks(refs: Sequence[DueRef], size: int) -> list[list[DueRef]]:
    return [list(refs[i : i + size]) for i in range(0, len(refs), size)]


def _start_or_resume(deps: SchedulerDeps, now: datetime) -> tuple[RunCheckpoint, bool] | RunReport | None:
    """The unfinished run to resume, or a new one claimed for the window since the last cutoff.

    The first run ever covers the horizon: every open payment with a check due is sent once (for
    its latest check; ``window_ranges``), so a stack or sandbox that starts late misses nothing.
    None: another invocation claimed it. A finished report: no window to cover (``now`` is not
    after the last cutoff).
    """
    stored = deps.checkpoints.load()
    if stored is not None and not stored.finished:
        return stored, True
    since = stored.cutoff if stored is not None else now - deps.policy.horizon
    if now <= since:
        return RunReport(run_id="", cutoff=since.isoformat(), resumed=False, finished=True)
    fresh = RunCheckpoint(
        run_id=now.strftime("%Y%m%dT%H%M%S%f"),
        cutoff=now,
        since=since,
        seq=stored.seq + 1 if stored is not None else 0,
    )
    if not deps.checkpoints.save(fresh, expected_seq=stored.seq if stored is not None else None):
        return None
    return fresh, False


def _ranges_to_read(ranges: list[DueRange], oldest: datetime | None, offset: int) -> list[DueRange]:
    """The shard's ranges from check ``offset`` on that can hold anchors (none before its oldest)."""
    if oldest is None:
        return []
    return [r for r in ranges if r.k >= offset and r.until >= oldest]


def _next_position(run: RunCheckpoint, todo: list[DueRange], last: dict[str, Any] | None) -> RunCheckpoint:
    """Where to read after a page of ``todo[0]``: its next page, the next range, or the next lane."""
    if last:
        return replace(run, offset=todo[0].k, start=last)
    if len(todo) > 1:
        return replace(run, offset=todo[1].k, start=None)
    return replace(run, lane=run.lane + 1, offset=0, start=None)


def _run(deps: SchedulerDeps, run: RunCheckpoint, report: RunReport, time_left: Callable[[], float]) -> None:
    lanes = [(schedule, shard) for schedule in Schedule for shard in range(deps.shards)]
    ranges = {schedule: deps.policy.window_ranges(schedule, run.since, run.cutoff) for schedule in Schedule}
    oldest: dict[int, datetime | None] = {}
    unsaved = False  # read past the last save: pages are not saved one by one
    buffer: list[DueRef] = []  # read and not sent yet: a send packs whole messages where it can

    def save(position: RunCheckpoint) -> RunCheckpoint | None:
        advanced = replace(position, seq=position.seq + 1)
        if not deps.checkpoints.save(advanced, expected_seq=position.seq):
            report.superseded = True
            return None
        return advanced

    def flush(position: RunCheckpoint) -> RunCheckpoint | None:
        """Send what was read, then save the position after it (never a position past unsent refs)."""
        if buffer:
            deps.queue.send(position.run_id, _chunks(buffer, deps.batch_size))
        saved = save(position)
        if saved is not None:
            report.enqueued += len(buffer)
        buffer.clear()
        return saved

    while run.lane < len(lanes):
        if time_left() < deps.margin_seconds:
            if unsaved:
                flush(run)
            return  # the checkpoint says where to go on
        schedule, shard = lanes[run.lane]
        if run.lane not in oldest:
            oldest[run.lane] = deps.index.oldest(schedule, shard)
        todo = _ranges_to_read(ranges[schedule], oldest[run.lane], run.offset)
        if not todo:
            run, unsaved = replace(run, lane=run.lane + 1, offset=0, start=None), True
            continue
        refs, last = deps.index.page(
            schedule, shard, after=todo[0].after, until=todo[0].until, start=run.start, limit=deps.page_size
        )
        run = replace(_next_position(run, todo, last), enqueued=run.enqueued + len(refs), pages=run.pages + 1)
        report.pages += 1
        unsaved = True
        buffer.extend(refs)
        if len(buffer) >= deps.send_size:
            saved = flush(run)
            if saved is None:
                return
            run, unsaved = saved, False
    if flush(replace(run, finished=True)) is not None:
        report.finished = True


def schedule_due_checks(
    deps: SchedulerDeps, *, now: datetime, time_left: Callable[[], float]
) -> list[RunReport]:
    """Enqueue every payment with a check due since the last run's cutoff; resume an unfinished run first.

    A resumed run keeps its window. When its cutoff is a period old or more (it stopped short in an
    earlier period) a new run follows for the window from that cutoff to ``now``, so a check is
    still enqueued within one period of coming due; a retry within the period (the schedule retries
    a failed invocation) only finishes the run, rather than sending its payments twice.
    """
    reports: list[RunReport] = []
    for _ in range(2):
        claimed = _start_or_resume(deps, now)
        if claimed is None:
            reports.append(RunReport(run_id="", cutoff=now.isoformat(), resumed=False, superseded=True))
            break
        if isinstance(claimed, RunReport):
            if not reports:
                reports.append(claimed)
            break
        run, resumed = claimed
        report = RunReport(run_id=run.run_id, cutoff=run.cutoff.isoformat(), resumed=resumed)
        reports.append(report)
        _run(deps, run, report, time_left)
        if not (report.finished and resumed and now - run.cutoff >= deps.period):
            break
    return reports


# --- the worker --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerDeps:
    due: DuePayments
    payments: Payments
    provider_for: Callable[[str], PaymentProvider | None]
    policy: DueCheckPolicy = POLICY
    #: payments of a batch checked at once (``check_due_payments``): a whole message's
    concurrency: int = SchedulerDeps.batch_size


@dataclass
class CheckReport:
    checked: int = 0
    repaired: list[str] = field(default_factory=list)
    unchanged: int = 0
    without_api: int = 0
    #: not due any more (changed since it was enqueued) or no longer open
    skipped: int = 0
    #: the provider or the table failed: asked again at the payment's next check
    failed: list[str] = field(default_factory=list)


def check_due_payments(
    refs: Sequence[DueRef], deps: WorkerDeps, *, now: datetime, run_id: str
) -> CheckReport:
    """Check a batch's payments at once (up to ``deps.concurrency``): a check is mostly the
    provider's round trip, so a batch of ten is billed about one round trip, not ten (issue 13).
    Each payment is its own read, provider call and (only when the provider has news) conditional
    write, so checks of different payments share nothing; an unexpected error still fails the
    batch (after the others finish)."""

    def one(ref: DueRef) -> CheckReport:
        report = CheckReport()
        state = deps.due.state(ref)
        if state is None or not awaits_provider(state.payment) or not deps.policy.is_due(state.anchor, now):
            report.skipped += 1
            return report
        report.checked += 1
        _check(ref, state, deps, now=now, run_id=run_id, report=report)
        return report

    workers = min(deps.concurrency, len(refs))
    if workers <= 1:
        parts = [one(ref) for ref in refs]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="janitor-check") as pool:
            # each check runs in a copy of the caller's context, taken here: whatever the invocation
            # set in context variables (the sandbox's acting function, hence its role) holds in it
            futures = [pool.submit(contextvars.copy_context().run, one, ref) for ref in refs]
            parts = [future.result() for future in futures]
    return _merged(parts)


def _merged(parts: Sequence[CheckReport]) -> CheckReport:
    """One batch's report from its payments' reports, in the batch's order."""
    total = CheckReport()
    for part in parts:
        total.checked += part.checked
        total.repaired += part.repaired
        total.unchanged += part.unchanged
        total.without_api += part.without_api
        total.skipped += part.skipped
        total.failed += part.failed
    return total


class _ReadOnce:
    """The payment store, answering the merge's first read with the payment the check has just read
    (the same consistent read): a check costs one read, not two. A lost version race reads again."""

    def __init__(self, payments: Payments, payment: Payment) -> None:
        self._payments = payments
        self._read: Payment | None = payment

    def get(self, provider: str, payment_id: str) -> Payment | None:
        read, self._read = self._read, None
        return read if read is not None else self._payments.get(provider, payment_id)

    def save(self, applied: Applied, *, expected_version: int) -> None:
        self._payments.save(applied, expected_version=expected_version)

    def last_history(self, provider: str, payment_id: str) -> HistoryEntry | None:
        return self._payments.last_history(provider, payment_id)


def _check(
    ref: DueRef, state: DueState, deps: WorkerDeps, *, now: datetime, run_id: str, report: CheckReport
) -> None:
    """Ask the provider and apply what it says; nothing new writes nothing (the schedule is fixed)."""
    payment = state.payment
    client = deps.provider_for(payment.provider)
    if client is None:
        report.without_api += 1
        return
    try:
        snapshot = client.retrieve(payment.provider_payment_id)
    except ProviderError:
        report.failed.append(ref.key)  # asked again at the payment's next check
        return
    event = snapshot.as_event(
        provider=payment.provider,
        event_id=f"janitor:{run_id}",
        kind=EventKind.SNAPSHOT,
        occurred_at=now,
        actor="janitor",
    )
    try:
        applied = apply_canonical(event, _ReadOnce(deps.payments, payment), now=now)
    except StoreUnavailable:
        report.failed.append(ref.key)  # throttled on this payment: its next check tries again
        return
    if applied is not None:
        report.repaired.append(ref.key)  # the write gave it a new anchor
        return
    report.unchanged += 1
