"""The payments janitor (SPEC §1, issue 11 item 4): lost webhooks repaired from the provider's view.

A webhook can be lost (the provider gave up retrying, an endpoint was misconfigured). So every
payment still awaiting the provider is re-fetched once its next check is due, and the snapshot is
applied like any event — the same merge, so a repair can never undo a newer fact. What a repair
implies (ledger, workflow start) follows from its write through the change feed, like any other
change; when the provider has nothing new, nothing is re-run (the feed delivered the effects of the
last write and retries them itself) and the payment's next check moves forward with backoff
(``domain.due_checks``).

The work is split so that it scales with what is due, not with what is open:

- the scheduler (every period) reads only the due entries of the index, shard by shard and page by
  page, and sends them in batches to a queue, saving a checkpoint after each page: a run that runs
  out of time stops cleanly and the next invocation resumes from the page it stopped at;
- the worker (one queue message at a time, concurrency bounded so providers are not flooded)
  checks each payment of a batch. A payment that is no longer due (changed since, or checked by a
  duplicate message) is skipped, so an overlap between runs costs a read, not a provider call.
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
    DueRef,
    DueState,
    RunCheckpoint,
    awaits_provider,
)
from cardops.payments.domain.payments import EventKind
from cardops.payments.providers.base import PaymentProvider, ProviderError
from cardops.payments.use_cases.payment_events import Payments, apply_canonical

# --- ports -------------------------------------------------------------------------------------


class DueIndex(Protocol):
    def page(
        self, shard: int, *, cutoff: datetime, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[DueRef], dict[str, Any] | None]: ...


class Checkpoints(Protocol):
    def load(self) -> RunCheckpoint | None: ...

    def save(self, checkpoint: RunCheckpoint, *, expected_seq: int | None) -> bool: ...


class CheckQueue(Protocol):
    def send(self, run_id: str, batches: Sequence[Sequence[DueRef]]) -> None: ...


class DuePayments(Protocol):
    def state(self, ref: DueRef) -> DueState | None: ...

    def reschedule(self, state: DueState, *, next_check_at: datetime) -> bool: ...


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
    #: a page is not started with less time than this left
    margin_seconds: float = 10.0


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


def _start_or_resume(deps: SchedulerDeps, now: datetime) -> tuple[RunCheckpoint, bool] | None:
    """The unfinished run to resume, or a new one claimed with a cutoff of ``now`` (None: lost the claim)."""
    stored = deps.checkpoints.load()
    if stored is not None and not stored.finished:
        return stored, True
    fresh = RunCheckpoint(
        run_id=now.strftime("%Y%m%dT%H%M%S%f"),
        cutoff=now,
        seq=stored.seq + 1 if stored is not None else 0,
    )
    if not deps.checkpoints.save(fresh, expected_seq=stored.seq if stored is not None else None):
        return None
    return fresh, False


def _run(deps: SchedulerDeps, run: RunCheckpoint, report: RunReport, time_left: Callable[[], float]) -> None:
    while not run.finished:
        if time_left() < deps.margin_seconds:
            return  # the checkpoint says where to go on
        refs, last = deps.index.page(run.shard, cutoff=run.cutoff, start=run.start, limit=deps.page_size)
        if refs:
            deps.queue.send(run.run_id, _chunks(refs, deps.batch_size))
        shard, start = (run.shard, last) if last else (run.shard + 1, None)
        advanced = replace(
            run,
            shard=shard,
            start=start,
            enqueued=run.enqueued + len(refs),
            pages=run.pages + 1,
            finished=shard >= deps.shards,
            seq=run.seq + 1,
        )
        if not deps.checkpoints.save(advanced, expected_seq=run.seq):
            report.superseded = True
            return
        run = advanced
        report.enqueued += len(refs)
        report.pages += 1
    report.finished = True


def schedule_due_checks(
    deps: SchedulerDeps, *, now: datetime, time_left: Callable[[], float]
) -> list[RunReport]:
    """Enqueue every payment due by ``now``; resume an unfinished run first.

    A resumed run keeps its cutoff. When it is a period old or more (it stopped short in an earlier
    period) a new run follows at ``now``, so a payment is still enqueued within one period of
    coming due; a retry within the period (the schedule retries a failed invocation) only finishes
    the run, rather than sending its payments twice.
    """
    reports: list[RunReport] = []
    for _ in range(2):
        claimed = _start_or_resume(deps, now)
        if claimed is None:
            reports.append(RunReport(run_id="", cutoff=now.isoformat(), resumed=False, superseded=True))
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
    #: not due any more (changed or checked since it was enqueued) or no longer open
    skipped: int = 0
    #: left due (the next run retries) or, when the provider refused, checked again after backoff
    failed: list[str] = field(default_factory=list)


def check_due_payments(
    refs: Sequence[DueRef], deps: WorkerDeps, *, now: datetime, run_id: str
) -> CheckReport:
    """Check a batch's payments at once (up to ``deps.concurrency``): a check is mostly the
    provider's round trip, so a batch of ten is billed about one round trip, not ten (issue 13).
    Each payment is its own read, provider call and conditional write, so checks of different
    payments share nothing; an unexpected error still fails the batch (after the others finish)."""

    def one(ref: DueRef) -> CheckReport:
        report = CheckReport()
        state = deps.due.state(ref)
        if (
            state is None
            or not awaits_provider(state.payment)
            or not deps.policy.is_due(state.next_check_at, now)
        ):
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


def _check(
    ref: DueRef, state: DueState, deps: WorkerDeps, *, now: datetime, run_id: str, report: CheckReport
) -> None:
    payment = state.payment

    def backoff() -> None:
        later = deps.policy.next_check(since=now, checks=state.checks + 1, key=ref.key)
        try:
            deps.due.reschedule(state, next_check_at=later)  # False: it changed meanwhile, which is news
        except StoreUnavailable:
            report.failed.append(ref.key)  # still due: the next run checks it again

    client = deps.provider_for(payment.provider)
    if client is None:
        report.without_api += 1
        backoff()
        return
    try:
        snapshot = client.retrieve(payment.provider_payment_id)
    except ProviderError as exc:
        report.failed.append(ref.key)
        if not exc.transient:
            backoff()  # a refusal stays one until someone acts: ask less and less often
        return  # a transient failure stays due: the next run asks again
    event = snapshot.as_event(
        provider=payment.provider,
        event_id=f"janitor:{run_id}",
        kind=EventKind.SNAPSHOT,
        occurred_at=now,
        actor="janitor",
    )
    try:
        applied = apply_canonical(event, deps.payments, now=now)
    except StoreUnavailable:
        report.failed.append(ref.key)  # throttled on this payment: it stays due
        return
    if applied is not None:
        report.repaired.append(ref.key)  # the write set its next check
        return
    report.unchanged += 1
    backoff()
