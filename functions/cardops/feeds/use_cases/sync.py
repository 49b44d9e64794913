"""The feed sync run (SPEC §7, §8 contract 7): as the schedule runs it, and on demand for a date.

decide_sync → (skip: record it) → the window since the last successful run's watermark → every file
delivered under ``feeds/{tenant}/{card_company}/`` in it (date folders before the window not even
listed: ``FeedFileSource.delivered``), oldest first → each file streamed through
``StatementReader`` (malformed rows reported with file/line/reason, the rest read on) → each line
deduplicated (in the run, then against the store) → matched by one ``TenantMatcher`` per tenant,
memoized per card (``MatchMemo``; plain rows take the fast path, ``FastStatementReader``) → stored
a batch at a time (``LineStore.add_lines``) → refunds linked over the last 90 days (read by usage
date) → watermark advanced, run
recorded. Only a completed run moves the watermark, so a weekend, a holiday or a failed run loses
nothing.

A run nearing its time limit (``should_stop``) saves a checkpoint — its counters, the file in
progress and its last committed line (finished files are marked read in the store by key and
ETag), and once every file is read the tenants whose refunds are linked — and answers
``in_progress``; the next call with the same
watermark resumes there; a checkpoint only ever names a line whose batch is stored. Re-reading a
line after a crash between checkpoints is harmless: the store finds it and counts a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cardops.feeds.domain.dedupe import LineDeduplicator
from cardops.feeds.domain.fast_path import FastStatementReader
from cardops.feeds.domain.formats import FORMATS, StatementFormat, UnknownCardCompany, format_for
from cardops.feeds.domain.matching import MatchMemo, Outcome, TenantMatcher
from cardops.feeds.domain.models import Employee, RowError, StatementLine
from cardops.feeds.domain.reader import FeedFileError, ReadableBinary
from cardops.feeds.domain.refund_links import DEFAULT_WINDOW, link_refunds
from cardops.feeds.domain.schedule import decide_sync, files_for_run, sync_window
from cardops.feeds.domain.settlement import LineRecord
from cardops.feeds.store import FeedLocation, StoredLine, Tenant

#: S3 lists ``LastModified`` to the second and a file may land while a run lists: the window starts
#: this much before the watermark, and files already done (same ETag) are skipped, not re-read.
WINDOW_OVERLAP = timedelta(minutes=10)
#: The summary keeps this many problems; the count is always exact.
MAX_PROBLEMS = 200
#: How often (in lines) a long file stores what is pending (one ``add_lines`` call) and then checks
#: the time budget; a store without a batch writer (one transaction a line) checks more often.
CHECK_EVERY = 200
CHECK_EVERY_LINE_BY_LINE = 20
#: Time a stopping run keeps for its checkpoint and its answer (API Gateway allows 29 s in all).
SAFETY_MARGIN_SECONDS = 5.0

RunStatus = Literal["completed", "skipped_holiday", "skipped_weekend", "in_progress"]
_M = TypeVar("_M", bound=BaseModel)


# ---- ports: the real adapters are ``feeds.store.FeedFiles``/``FeedStore`` (``feeds.wiring``), the
# in-memory ones ``tests/fakes/feeds.py``; ``tests/integration/test_fake_contracts.py`` holds them alike


class FeedFileSource(Protocol):
    """The delivered statement files (the feed bucket)."""

    def delivered(self, tenant_id: str | None = None, *, since: datetime | None = None) -> list[FeedLocation]:
        """Every file under ``feeds/{tenant}/{company}/``; date folders before ``since`` may be left out."""
        ...

    def open(self, key: str) -> ReadableBinary:
        """The file as a stream, read chunk by chunk."""
        ...


class Directory(Protocol):
    """What matching reads of a tenant: its corporate number and its employee master."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def employees(self, tenant_id: str) -> list[Employee]: ...


class LineStore(Protocol):
    """Card lines, matched or error data (``employee_code`` None, with the error's reason, hint and fix)."""

    @property
    def batched(self) -> bool:
        """True when ``add_lines`` writes many lines a call (the run stores bigger batches)."""
        ...

    def add_lines(self, tenant_id: str, records: Sequence[LineRecord]) -> list[bool]:
        """Store lines of distinct identities; for each, False when it was already stored."""
        ...

    def refund_lines(
        self, tenant_id: str, *, since: date, until: date, window: timedelta
    ) -> list[StoredLine]: ...

    def save_line(self, stored: StoredLine) -> StoredLine:
        """Replace a line over the version read (``VersionConflict`` otherwise)."""
        ...


class SyncState(Protocol):
    """Where runs left off: the watermark, the files read, the checkpoint, the recorded runs."""

    def watermark(self) -> datetime | None: ...

    def advance_watermark(self, to: datetime) -> None:
        """Forward only: a late or repeated run never moves it back."""
        ...

    def done_etag(self, key: str) -> str | None: ...

    def mark_done(self, key: str, etag: str, at: datetime) -> None: ...

    def get_checkpoint(self, model: type[_M]) -> _M | None: ...

    def put_checkpoint(self, checkpoint: BaseModel) -> None: ...

    def clear_checkpoint(self) -> None: ...

    def record_run(self, business_date: date, started_at: datetime, summary: BaseModel) -> None: ...

    def runs(self, business_date: date | None = None) -> list[str]:
        """The recorded summaries (JSON), oldest first; of one business date when given."""
        ...


@dataclass(frozen=True)
class Deps:
    """A sync's adapters (``feeds.wiring.feed_sync`` builds the real ones)."""

    files: FeedFileSource
    directory: Directory
    lines: LineStore
    state: SyncState
    formats: Mapping[str, StatementFormat] = field(default_factory=lambda: FORMATS)


class Problem(BaseModel):
    """A malformed file or row: reported, never a reason to stop the rest."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int | None = None
    reason: str


class Counters(BaseModel):
    lines_read: int = 0
    matched: int = 0
    errors: int = 0
    duplicates: int = 0
    malformed: int = 0

    def add(self, other: Counters) -> None:
        for name in Counters.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class TenantResult(Counters):
    tenant_id: str
    files: int = 0
    #: ``corporate_number_missing``/``_invalid`` when no line of the tenant could be linked.
    corporate_number_problem: str | None = None
    refunds_linked: int = 0
    refunds_with_candidates: int = 0


class SyncSummary(Counters):
    """What a run answers (SPEC §8 contract 7) and records."""

    business_date: date
    status: RunStatus
    holiday_name: str | None = None
    next_sync_date: date
    window_after: AwareDatetime | None = None
    window_until: AwareDatetime | None = None
    files_total: int = 0
    files_done: int = 0
    #: after the files, refunds are linked tenant by tenant (a call may stop between tenants)
    refund_tenants_total: int = 0
    refund_tenants_done: int = 0
    resumed: bool = False
    problems: list[Problem] = Field(default_factory=list)
    problems_total: int = 0
    tenants: list[TenantResult] = Field(default_factory=list)


class Checkpoint(BaseModel):
    """Where an unfinished run stopped; valid while the watermark it started from is unchanged."""

    business_date: date
    watermark: AwareDatetime | None
    started_at: AwareDatetime
    #: Files finished by this run so far (each is also marked read in the store, by key and ETag).
    files_done: int = 0
    current_key: str | None = None
    current_line: int = 0
    #: tenants whose refunds this run has linked (after every file was read)
    refunds_linked_tenants: list[str] = Field(default_factory=list)
    summary: SyncSummary


class Progress(BaseModel):
    model_config = ConfigDict(frozen=True)

    files_total: int
    files_done: int
    lines_read: int
    current_file: str | None


class _Run:
    """One call's state; the summary is the checkpoint's, so stopping anywhere loses nothing."""

    def __init__(self, sync: FeedSync, checkpoint: Checkpoint) -> None:
        self.sync = sync
        self.checkpoint = checkpoint
        self.summary = checkpoint.summary
        self.tenants = {result.tenant_id: result for result in self.summary.tenants}
        self.matchers: dict[str, TenantMatcher] = {}
        self.memos: dict[str, MatchMemo] = {}
        #: Line identity is per tenant: two tenants' cards may carry the same 明細番号.
        self.dedupe: dict[str, LineDeduplicator] = {}

    def tenant(self, tenant_id: str) -> TenantResult:
        if tenant_id not in self.tenants:
            result = TenantResult(tenant_id=tenant_id)
            self.tenants[tenant_id] = result
            self.summary.tenants.append(result)
        return self.tenants[tenant_id]

    def matcher(self, tenant_id: str) -> TenantMatcher:
        if tenant_id not in self.matchers:
            directory = self.sync.deps.directory
            tenant = directory.get_tenant(tenant_id)
            corporate_number = tenant.corporate_number if tenant else None
            matcher = TenantMatcher(corporate_number, directory.employees(tenant_id), self.sync.deps.formats)
            self.matchers[tenant_id] = matcher
            self.memos[tenant_id] = MatchMemo(matcher)
            self.tenant(tenant_id).corporate_number_problem = matcher.corporate_number_problem
        return self.matchers[tenant_id]

    def memo(self, tenant_id: str) -> MatchMemo:
        self.matcher(tenant_id)
        return self.memos[tenant_id]

    def problem(self, result: TenantResult, problem: Problem, *, row: bool) -> None:
        self.summary.problems_total += 1
        if len(self.summary.problems) < MAX_PROBLEMS:
            self.summary.problems.append(problem)
        if row:
            result.malformed += 1
            self.summary.malformed += 1


class FeedSync:
    """Built on the real adapters by ``feeds.wiring.feed_sync``; the unit tests build it on the fakes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.state = deps.state
        self.lines = deps.lines
        self.files = deps.files

    def runs(self, business_date: date | None = None) -> list[SyncSummary]:
        """Recorded runs and skips (oldest first), of one business date when given."""
        return [SyncSummary.model_validate_json(doc) for doc in self.deps.state.runs(business_date)]

    def run(
        self,
        business_date: date,
        now: datetime,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Callable[[Progress], None] | None = None,
    ) -> SyncSummary:
        """Run (or resume) the sync of ``business_date`` at ``now``; see the module docstring."""
        decision = decide_sync(business_date)
        if not decision.runs:
            skipped = SyncSummary(
                business_date=business_date,
                status=decision.status_if_successful,
                holiday_name=decision.holiday_name,
                next_sync_date=decision.next_sync_date,
            )
            self.state.record_run(business_date, now, skipped)
            return skipped
        watermark = self.state.watermark()
        checkpoint = self._resumable(business_date, watermark)
        if checkpoint is None:
            window = sync_window(watermark, max(now, watermark) if watermark else now)
            checkpoint = Checkpoint(
                business_date=business_date,
                watermark=watermark,
                started_at=now,
                summary=SyncSummary(
                    business_date=business_date,
                    status="in_progress",
                    next_sync_date=decision.next_sync_date,
                    window_after=window.after,
                    window_until=window.until,
                ),
            )
        else:
            checkpoint.summary.resumed = True
            # A resumed run takes what arrived meanwhile too; files done are not read again.
            if checkpoint.summary.window_until is None or now > checkpoint.summary.window_until:
                checkpoint.summary.window_until = now
        run = _Run(self, checkpoint)
        summary = run.summary
        until = summary.window_until or now
        window = sync_window(watermark - WINDOW_OVERLAP if watermark else None, until)
        delivered = {location.file.key: location for location in self.files.delivered(since=window.after)}
        taken = files_for_run((location.file for location in delivered.values()), window)
        todo = [delivered[f.key] for f in taken if self.state.done_etag(f.key) != delivered[f.key].etag]
        summary.files_total = checkpoint.files_done + len(todo)
        for location in todo:
            if progress is not None:
                progress(self._progress(run, location.file.key))
            finished = self._file(run, location, should_stop)
            if not finished:
                summary.files_done = checkpoint.files_done
                self.state.put_checkpoint(checkpoint)
                if progress is not None:
                    progress(self._progress(run, location.file.key))
                return summary.model_copy(deep=True)
            checkpoint.files_done += 1
            self.state.mark_done(location.file.key, location.etag, now)
            checkpoint.current_key, checkpoint.current_line = None, 0
            summary.files_done = checkpoint.files_done
            if should_stop():
                self.state.put_checkpoint(checkpoint)
                return summary.model_copy(deep=True)
        tenants = sorted(run.tenants)
        summary.refund_tenants_total = len(tenants)
        for tenant_id in tenants:
            if tenant_id in checkpoint.refunds_linked_tenants:
                continue
            if should_stop():
                self.state.put_checkpoint(checkpoint)
                return summary.model_copy(deep=True)
            self._link_refunds(run, tenant_id, business_date)
            checkpoint.refunds_linked_tenants.append(tenant_id)
            summary.refund_tenants_done = len(checkpoint.refunds_linked_tenants)
        summary.status = "completed"
        self.state.advance_watermark(until)
        self.state.record_run(business_date, checkpoint.started_at, summary)
        self.state.clear_checkpoint()
        if progress is not None:
            progress(self._progress(run, None))
        return summary

    def _resumable(self, business_date: date, watermark: datetime | None) -> Checkpoint | None:
        checkpoint = self.state.get_checkpoint(Checkpoint)
        if checkpoint is None or checkpoint.watermark != watermark:
            return None
        if checkpoint.business_date != business_date:
            # Another date's unfinished run: keep its finished files, start this date's counters.
            checkpoint.business_date = business_date
            checkpoint.files_done = 0
            checkpoint.refunds_linked_tenants = []
            checkpoint.summary = checkpoint.summary.model_copy(
                update={
                    "business_date": business_date,
                    "next_sync_date": decide_sync(business_date).next_sync_date,
                    **Counters().model_dump(),
                    "problems": [],
                    "problems_total": 0,
                    "refund_tenants_done": 0,
                    "tenants": [],
                }
            )
        return checkpoint

    @staticmethod
    def _progress(run: _Run, current: str | None) -> Progress:
        return Progress(
            files_total=run.summary.files_total,
            files_done=run.checkpoint.files_done,
            lines_read=run.summary.lines_read,
            current_file=current,
        )

    def _file(self, run: _Run, location: FeedLocation, should_stop: Callable[[], bool]) -> bool:
        """Read one file from its checkpointed line; False when it stopped for time."""
        key = location.file.key
        tenant_id = location.tenant_id
        result = run.tenant(tenant_id)
        checkpoint = run.checkpoint
        start_after = checkpoint.current_line if checkpoint.current_key == key else 0
        if start_after == 0:
            result.files += 1
        try:
            fmt = format_for(location.card_company, self.deps.formats)
            memo = run.memo(tenant_id)
            reader = FastStatementReader(self.files.open(key), fmt, key, memo, start_after_line=start_after)
        except (UnknownCardCompany, FeedFileError) as exc:
            reason = exc.reason if isinstance(exc, FeedFileError) else str(exc.args[0])
            run.problem(result, Problem(file=key, reason=reason), row=False)
            return True
        checkpoint.current_key = key
        dedupe = run.dedupe.setdefault(tenant_id, LineDeduplicator())
        pending: list[tuple[StatementLine, Outcome]] = []
        since_check = 0
        check_every = CHECK_EVERY if self.lines.batched else CHECK_EVERY_LINE_BY_LINE
        for index, block in enumerate(reader.blocks()):
            if index and should_stop():  # the checkpoint names the end of the previous block
                return False
            for number, item, outcome in block.items():
                if isinstance(item, RowError) or outcome is None:
                    self._row_error(run, result, item)
                elif dedupe.is_new(item):
                    pending.append((item, outcome))
                else:
                    self._count(run, result, Counters(lines_read=1, duplicates=1))
                since_check += 1
                if since_check >= check_every:
                    since_check = 0
                    self._store(run, result, tenant_id, pending)
                    checkpoint.current_line = number
                    if should_stop():
                        return False
            self._store(run, result, tenant_id, pending)
            checkpoint.current_line = block.last_line
        return True

    @staticmethod
    def _count(run: _Run, result: TenantResult, counters: Counters) -> None:
        result.add(counters)
        run.summary.add(counters)

    def _row_error(self, run: _Run, result: TenantResult, item: StatementLine | RowError) -> None:
        reason = item.reason if isinstance(item, RowError) else "not read"
        run.problem(result, Problem(file=item.source_file, line=item.line_number, reason=reason), row=True)
        result.lines_read += 1
        run.summary.lines_read += 1

    def _store(
        self, run: _Run, result: TenantResult, tenant_id: str, pending: list[tuple[StatementLine, Outcome]]
    ) -> None:
        """A batch of new lines stored; each counts as matched, error data or (stored before) duplicate."""
        if not pending:
            return
        records = [
            LineRecord(
                line=line,
                employee_code=outcome.employee.employee_code if outcome.employee else None,
                error=outcome.error,
            )
            for line, outcome in pending
        ]
        counters = Counters(lines_read=len(pending))
        for (_, outcome), new in zip(pending, self.lines.add_lines(tenant_id, records), strict=True):
            if not new:
                counters.duplicates += 1
            elif outcome.matched:
                counters.matched += 1
            else:
                counters.errors += 1
        self._count(run, result, counters)
        pending.clear()

    def _link_refunds(self, run: _Run, tenant_id: str, business_date: date) -> None:
        """Refund lines of the last 90 days get their purchase, or the candidates to choose from."""
        # a refund of the last 90 days and the purchases of the 90 days before it; lines used after
        # the business date (a re-run for a past date) are linked by the run of their own date
        since = business_date - DEFAULT_WINDOW - DEFAULT_WINDOW
        stored = self.lines.refund_lines(tenant_id, since=since, until=business_date, window=DEFAULT_WINDOW)
        by_id = {s.record.line.line_id: s for s in stored}
        already = [
            s.refund.purchase_line_id
            for s in stored
            if s.refund is not None and s.refund.status == "linked" and s.refund.purchase_line_id
        ]
        open_lines = [
            s.record.line
            for s in stored
            if not (s.record.line.is_refund and s.refund is not None and s.refund.status == "linked")
        ]
        result = run.tenant(tenant_id)
        for link in link_refunds(open_lines, already_linked=already):
            line = by_id[link.refund_line_id]
            if link.status == "linked":
                result.refunds_linked += 1
            elif link.candidate_line_ids:
                result.refunds_with_candidates += 1
            if line.refund != link:
                self.lines.save_line(line.model_copy(update={"refund": link}))


def time_budget(context: Any, budget_seconds: float | None) -> Callable[[], bool]:
    """A ``should_stop`` leaving ``SAFETY_MARGIN_SECONDS`` of the Lambda's time, within ``budget_seconds``."""
    started = time.monotonic()
    remaining = getattr(context, "get_remaining_time_in_millis", None)

    def should_stop() -> bool:
        if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            return True
        return remaining is not None and remaining() / 1000 < SAFETY_MARGIN_SECONDS

    return should_stop
