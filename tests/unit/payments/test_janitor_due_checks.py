"""Issue 11 item 4: the janitor's due-check policy and its scheduler (in memory; the table is in the
integration tests and the scale benchmark)."""

from __future__ import annotations

import contextvars
import itertools
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardops.payments.domain.capture_deadline import LONGEST_AUTHORIZATION
from cardops.payments.domain.due_checks import (
    POLICY,
    DueCheckPolicy,
    DueRef,
    DueState,
    RunCheckpoint,
    Schedule,
)
from cardops.payments.domain.payments import (
    Applied,
    EventKind,
    HistoryEntry,
    Payment,
    PaymentFacts,
    PaymentMetadata,
    PaymentStatus,
)
from cardops.payments.providers.base import (
    PermanentProviderError,
    ProviderError,
    ProviderPayment,
    TransientProviderError,
)
from cardops.payments.store.due_checks import due_entry
from cardops.payments.use_cases.janitor import (
    SchedulerDeps,
    WorkerDeps,
    check_due_payments,
    schedule_due_checks,
)
from tests.fakes.payments import FakeCheckpoints, FakeCheckQueue, FakeDue, FakeDueIndex

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


# --- the policy ----------------------------------------------------------------------------------


def test_the_wait_doubles_after_each_quiet_check_up_to_the_cap() -> None:
    policy = DueCheckPolicy(quiet=timedelta(minutes=15), cap=timedelta(hours=6))
    waits = [policy.interval(n) for n in range(8)]
    assert waits[:5] == [timedelta(minutes=m) for m in (15, 30, 60, 120, 240)]
    assert waits[5:] == [timedelta(hours=6)] * 3
    assert policy.interval(10_000) == timedelta(hours=6)


def test_the_checks_are_due_at_the_cumulative_waits_up_to_the_longest_authorization() -> None:
    offsets = POLICY.offsets(Schedule.PENDING)
    assert offsets[:6] == tuple(timedelta(minutes=m) for m in (15, 45, 105, 225, 465, 825))
    assert {b - a for a, b in itertools.pairwise(offsets[5:])} == {timedelta(hours=6)}
    # the horizon comes from the capture-deadline rules: PAY.JP's 60 days outlast Stripe's 30
    assert POLICY.horizon == LONGEST_AUTHORIZATION == timedelta(days=60)
    assert offsets[-1] <= POLICY.horizon < offsets[-1] + POLICY.cap


def test_an_authorized_payment_waits_up_to_a_day_between_checks_a_pending_one_six_hours() -> None:
    """An authorization owes no webhook (the store captures through us, and the expiry re-fetches
    the charge before releasing anything): its waits grow to 24 h, a pending payment's to 6 h."""
    authorized = POLICY.offsets(Schedule.AUTHORIZED)
    minutes = (15, 45, 105, 225, 465, 945, 1905, 3345)
    assert authorized[:8] == tuple(timedelta(minutes=m) for m in minutes)
    assert {b - a for a, b in itertools.pairwise(authorized[7:])} == {timedelta(hours=24)}
    assert POLICY.cap_authorized == timedelta(hours=24) and POLICY.cap == timedelta(hours=6)
    # two days authorized: 7 checks, where the pending schedule makes 11
    two_days = timedelta(hours=48)
    assert sum(o <= two_days for o in authorized) == 7
    assert sum(o <= two_days for o in POLICY.offsets(Schedule.PENDING)) == 11


def test_the_payment_write_files_pending_and_authorized_payments_under_their_schedules() -> None:
    pending = _payment().model_copy(update={"status": PaymentStatus.PENDING})
    pk = "PAY#payjp#ch_1"
    assert due_entry(_payment(), pk)["gsi2pk"]["S"].startswith("AUTH#")
    assert due_entry(pending, pk)["gsi2pk"]["S"].startswith("OPEN#")  # where every entry was before
    assert due_entry(_payment().model_copy(update={"status": PaymentStatus.CAPTURED}), pk) == {}


def test_the_scheduler_reads_each_schedules_partitions_with_its_own_offsets() -> None:
    # a check at 13 h 45 min after the anchor falls in this window: on the pending schedule only
    anchor = NOW - timedelta(minutes=825 + 10)
    index = FakeDueIndex({})
    index.add(0, anchor, _ref(1), schedule=Schedule.PENDING)
    index.add(0, anchor, _ref(2), schedule=Schedule.AUTHORIZED)
    index.add(1, NOW - timedelta(minutes=945 + 10), _ref(3), schedule=Schedule.AUTHORIZED)  # its 15 h 45
    deps, _, queue = _deps(index)

    (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert run.finished and sorted(r.payment_id for r in queue.refs()) == ["ch_00001", "ch_00003"]


def test_the_anchor_jitter_is_bounded_stable_per_payment_and_spreads_payments() -> None:
    policy = DueCheckPolicy(jitter=0.1)
    anchors = {policy.anchor(changed_at=NOW, key=f"payjp/ch_{n}") for n in range(200)}
    assert all(NOW <= t < NOW + policy.quiet * 0.1 for t in anchors)
    assert len(anchors) == 200  # payments opened together do not come due together
    assert policy.anchor(changed_at=NOW, key="payjp/ch_7") == policy.anchor(changed_at=NOW, key="payjp/ch_7")


def test_the_policy_refuses_naive_times_and_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DueCheckPolicy().anchor(changed_at=datetime(2026, 12, 5), key="k")
    with pytest.raises(ValueError):
        DueCheckPolicy(quiet=timedelta(hours=2), cap=timedelta(hours=1))
    with pytest.raises(ValueError):
        DueCheckPolicy(jitter=1.0)
    with pytest.raises(ValueError):
        DueCheckPolicy(horizon=timedelta(minutes=1))


def _sent_in(
    policy: DueCheckPolicy, schedule: Schedule, anchor: datetime, since: datetime, until: datetime
) -> list[int]:
    return [r.k for r in policy.window_ranges(schedule, since, until) if r.after < anchor <= r.until]


@settings(max_examples=200, deadline=None)
@given(
    schedule=st.sampled_from(Schedule),
    anchor_minutes=st.integers(min_value=0, max_value=4 * 24 * 60),
    gaps=st.lists(st.integers(min_value=1, max_value=6 * 60), min_size=1, max_size=40),
)
def test_the_kth_check_of_a_payment_is_due_in_exactly_one_runs_window(
    schedule: Schedule, anchor_minutes: int, gaps: list[int]
) -> None:
    """Runs at any cutoffs (late, missed): each check lies in exactly one window, and a window that
    holds some of a payment's checks sends the payment once, for the latest of them."""
    policy = DueCheckPolicy(horizon=timedelta(days=3))
    anchor = NOW + timedelta(minutes=anchor_minutes, microseconds=anchor_minutes * 7)
    cutoffs = [NOW + timedelta(days=5)]
    for gap in gaps:
        cutoffs.insert(0, cutoffs[0] - timedelta(minutes=gap))
    windows = list(itertools.pairwise([NOW, *cutoffs]))
    offsets = policy.offsets(schedule)
    for k, offset in enumerate(offsets):
        due = anchor + offset
        holding = [(since, until) for since, until in windows if since < due <= until]
        assert len(holding) == (1 if NOW < due <= cutoffs[-1] else 0), k
    for since, until in windows:
        latest = [k for k, offset in enumerate(offsets) if since < anchor + offset <= until]
        assert _sent_in(policy, schedule, anchor, since, until) == latest[-1:]


# --- the scheduler ------------------------------------------------------------------------------


def _ref(n: int) -> DueRef:
    return DueRef(provider="payjp", payment_id=f"ch_{n:05d}")


def _index(due: int, later: int, shards: int = 4, *, cutoff: datetime = NOW) -> FakeDueIndex:
    """``due`` payments whose first check falls in the period before ``cutoff`` and ``later``
    payments with no check in it (changed within the quiet period, or between two checks)."""
    entries: dict[int, list[tuple[datetime, DueRef]]] = {s: [] for s in range(shards)}
    quiet = POLICY.quiet
    for n in range(due + later):
        if n < due:
            anchor = cutoff - quiet - timedelta(seconds=1 + n)
        elif n % 2:
            anchor = cutoff - timedelta(seconds=n % 600)  # too recent
        else:
            anchor = (
                cutoff - quiet - timedelta(minutes=20, seconds=n % 600)
            )  # first check before, second after
        entries[n % shards].append((anchor, _ref(n)))
    return FakeDueIndex(entries)


def _deps(index: FakeDueIndex, **overrides: Any) -> tuple[SchedulerDeps, FakeCheckpoints, FakeCheckQueue]:
    checkpoints, queue = FakeCheckpoints(), FakeCheckQueue()
    checkpoints.stored = RunCheckpoint(
        run_id="before", cutoff=NOW - timedelta(minutes=15), since=NOW - timedelta(minutes=30), finished=True
    )
    deps = SchedulerDeps(
        index=index,
        checkpoints=checkpoints,
        queue=queue,
        shards=4,
        period=timedelta(minutes=15),
        page_size=10,
        batch_size=4,
    )
    return replace(deps, **overrides), checkpoints, queue


def test_a_run_enqueues_every_due_payment_once_in_batches_and_reads_nothing_else() -> None:
    index = _index(due=57, later=500)
    deps, checkpoints, queue = _deps(index)

    (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert run.finished and not run.resumed and run.enqueued == 57
    assert sorted(r.payment_id for r in queue.refs()) == [f"ch_{n:05d}" for n in range(57)]
    assert all(len(batch) <= 4 for _, batch in queue.messages)
    assert index.reads == 57 + 4  # and each shard's oldest anchor: the 500 not due are never read
    assert checkpoints.stored is not None and checkpoints.stored.finished
    assert checkpoints.stored.since == NOW - timedelta(minutes=15)
    # the claim, then one send (57 payments, under a send's hundred) and its save at the end
    assert queue.sends == 1 and checkpoints.saves == 2


def test_a_run_reads_a_fixed_number_of_ranges_whatever_is_open() -> None:
    """One range per shard and offset old enough to hold anchors: the same for 50 and 5,000 open."""

    def queries(later: int) -> int:
        index = _index(due=20, later=later)
        for shard in range(4):  # each shard holds a payment older than the horizon
            index.add(shard, NOW - POLICY.horizon - timedelta(days=1), _ref(90_000 + shard))
        deps, _, _ = _deps(index, page_size=10_000)
        (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)
        assert run.enqueued == 20
        return index.queries

    ranges = POLICY.window_ranges(Schedule.PENDING, NOW - timedelta(minutes=15), NOW)
    assert queries(50) == queries(5_000) == 4 * (1 + len(ranges)) + 4  # the empty authorized shards: 1 each


def test_a_missed_runs_window_is_covered_by_the_next_run() -> None:
    index = _index(due=12, later=0, cutoff=NOW - timedelta(minutes=15))  # due in the missed run
    index.add(1, NOW - POLICY.quiet - timedelta(seconds=30), _ref(500))  # due in this one
    deps, checkpoints, queue = _deps(index)
    checkpoints.stored = replace(checkpoints.stored, cutoff=NOW - timedelta(minutes=30))  # type: ignore[arg-type]

    (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert run.finished and run.enqueued == 13
    assert _ref(500) in queue.refs() and len(set(queue.refs())) == 13
    assert checkpoints.stored is not None and checkpoints.stored.since == NOW - timedelta(minutes=30)


def test_the_first_run_ever_sends_every_payment_with_a_check_due_once() -> None:
    index = _index(due=10, later=0)
    index.add(0, NOW - timedelta(days=3), _ref(700))  # many checks due: sent for the latest only
    deps, checkpoints, queue = _deps(index)
    checkpoints.stored = None

    (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert run.finished and run.enqueued == 11 and len(set(queue.refs())) == 11


def test_a_run_out_of_time_stops_after_a_page_and_the_next_invocation_resumes_it() -> None:
    index = _index(due=57, later=0)
    deps, checkpoints, queue = _deps(index)
    budget = iter([60.0, 60.0, 60.0, 60.0, 5.0])  # a few pages, then too little time for another

    (first,) = schedule_due_checks(deps, now=NOW, time_left=lambda: next(budget))

    assert not first.finished and first.enqueued == len(queue.refs()) > 0
    stored = checkpoints.stored
    assert stored is not None and not stored.finished and stored.cutoff == NOW
    # a payment whose check came due after the first run's cutoff belongs to the next run
    index.add(0, NOW + timedelta(minutes=5) - POLICY.quiet, _ref(99_999))
    later = NOW + timedelta(minutes=15)

    resumed, fresh = schedule_due_checks(deps, now=later, time_left=lambda: 60.0)

    assert resumed.resumed and resumed.finished and resumed.run_id == first.run_id
    assert first.enqueued + resumed.enqueued == 57
    first_run = [ref for run_id, batch in queue.messages if run_id == first.run_id for ref in batch]
    assert sorted(r.payment_id for r in first_run) == [f"ch_{n:05d}" for n in range(57)]  # none twice
    assert not fresh.resumed and fresh.finished and fresh.cutoff == later.isoformat()
    assert [ref for run_id, batch in queue.messages if run_id == fresh.run_id for ref in batch] == [
        _ref(99_999)
    ]


def test_an_invocation_that_loses_the_checkpoint_race_stops_and_leaves_the_run_to_the_winner() -> None:
    index = _index(due=30, later=0)
    deps, _, queue = _deps(index)

    class Racing(FakeCheckpoints):
        def save(self, checkpoint: RunCheckpoint, *, expected_seq: int | None) -> bool:
            if checkpoint.pages == 1:  # another invocation saved its first page just before
                assert self.stored is not None
                self.stored = replace(self.stored, seq=self.stored.seq + 1)
            return super().save(checkpoint, expected_seq=expected_seq)

    racing = Racing()
    racing.stored = deps.checkpoints.load()
    deps = replace(deps, checkpoints=racing, send_size=1)  # a send (and a save) after each page
    (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert run.superseded and not run.finished and run.enqueued == 0
    # the page it had sent (shard 0, eight due): the winner may send it again, the worker re-checks
    assert len(queue.refs()) == len(index.entries[(Schedule.PENDING, 0)]) == 8


def test_a_run_sends_whole_messages_across_pages_and_saves_after_each_send() -> None:
    index = _index(due=57, later=0)  # fifteen-odd per shard, ten a page
    deps, checkpoints, queue = _deps(index, send_size=20)

    (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert run.finished and run.enqueued == 57 and run.pages == 8
    assert sorted(r.payment_id for r in queue.refs()) == [f"ch_{n:05d}" for n in range(57)]
    # twenty or more a send (the last takes the rest), not one send per page; the claim, each send's save
    assert queue.sends == 3 and checkpoints.saves == 1 + 3


def test_nothing_due_reads_nothing_but_each_shards_oldest_anchor() -> None:
    index = _index(due=0, later=100)
    deps, checkpoints, queue = _deps(index)

    (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert run.finished and run.enqueued == 0
    assert queue.messages == [] and index.reads == 4  # the authorized shards are empty
    assert checkpoints.saves == 2  # the claim and the end: pages that sent nothing are not saved


def test_a_second_run_at_the_same_cutoff_has_no_window_and_sends_nothing() -> None:
    index = _index(due=5, later=0)
    deps, _, queue = _deps(index)
    schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    (again,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert again.finished and not again.superseded and again.enqueued == 0 and len(queue.refs()) == 5


def test_a_retry_within_the_period_only_finishes_the_run_it_resumes() -> None:
    index = _index(due=20, later=0)
    deps, _, queue = _deps(index)
    budget = iter([60.0, 60.0, 5.0])
    (first,) = schedule_due_checks(deps, now=NOW, time_left=lambda: next(budget))
    assert not first.finished

    runs = schedule_due_checks(deps, now=NOW + timedelta(minutes=2), time_left=lambda: 60.0)

    assert [(run.run_id, run.resumed, run.finished) for run in runs] == [(first.run_id, True, True)]
    assert sorted(r.payment_id for r in queue.refs()) == [f"ch_{n:05d}" for n in range(20)]


# --- the worker ---------------------------------------------------------------------------------


class MemoryPayments:
    """The payment store ``apply_canonical`` and the worker read and write."""

    def __init__(self, payment: Payment) -> None:
        self.payment = payment
        self.saved: list[Applied] = []
        self.reads = 0

    def get(self, provider: str, payment_id: str) -> Payment | None:
        self.reads += 1
        return self.payment

    def save(self, applied: Applied, *, expected_version: int) -> None:
        assert expected_version == self.payment.version
        self.payment = applied.payment
        self.saved.append(applied)

    def last_history(self, provider: str, payment_id: str) -> HistoryEntry | None:
        return HistoryEntry(
            seq=1,
            at=NOW - timedelta(days=1),
            actor="provider",
            event_id="evt_1",
            kind=EventKind.AUTHORIZED,
            from_status=None,
            to_status=PaymentStatus.AUTHORIZED,
            captured_amount=0,
            refunded_amount=0,
        )


class Provider:
    name = "payjp"

    def __init__(self, answer: ProviderPayment | ProviderError) -> None:
        self.answer = answer
        self.calls = 0

    def retrieve(self, payment_id: str) -> ProviderPayment:
        self.calls += 1
        if isinstance(self.answer, ProviderError):
            raise self.answer
        return self.answer


AUTHORIZED = PaymentFacts(currency="JPY", authorized_amount=6000, authorized_at=NOW - timedelta(days=1))
REF = DueRef(provider="payjp", payment_id="ch_1")


def _payment() -> Payment:
    return Payment(
        provider="payjp",
        provider_payment_id="ch_1",
        version=1,
        status=PaymentStatus.AUTHORIZED,
        facts=AUTHORIZED,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
    )


def _worker(
    answer: ProviderPayment | ProviderError | None, *, anchor: datetime = NOW - timedelta(hours=2)
) -> tuple[Any, MemoryPayments, FakeDue, Provider | None, list[Applied]]:
    payments = MemoryPayments(_payment())
    due = FakeDue(DueState(payment=payments.payment, anchor=anchor))
    provider = Provider(answer) if answer is not None else None
    heard: list[Applied] = []
    deps = WorkerDeps(due=due, payments=payments, provider_for=lambda name: provider)
    return deps, payments, due, provider, heard


def _snapshot(facts: PaymentFacts) -> ProviderPayment:
    return ProviderPayment(provider_payment_id="ch_1", facts=facts, metadata=PaymentMetadata())


def test_a_check_finding_nothing_makes_no_write() -> None:
    deps, payments, due, provider, heard = _worker(_snapshot(AUTHORIZED))

    report = check_due_payments([REF], deps, now=NOW, run_id="r1")

    assert (report.checked, report.unchanged, report.repaired) == (1, 1, [])
    assert payments.saved == [] and heard == []
    # one read (the merge takes the payment the check read) and one provider call
    assert provider is not None and provider.calls == 1 and due.reads == 1 and payments.reads == 0
    assert not hasattr(due, "reschedule")  # the port has no write: the schedule follows the anchor


def test_a_lost_capture_is_applied_and_the_write_sets_a_new_anchor() -> None:
    captured = AUTHORIZED.model_copy(
        update={"captured_amount": 6000, "captured_at": NOW - timedelta(hours=1)}
    )
    deps, payments, _, _, _ = _worker(_snapshot(captured))

    report = check_due_payments([REF], deps, now=NOW, run_id="r1")

    assert report.repaired == ["payjp/ch_1"]
    assert payments.payment.status is PaymentStatus.CAPTURED
    assert payments.saved[0].history.actor == "janitor" and payments.saved[0].history.event_id == "janitor:r1"


def test_a_payment_changed_since_it_was_sent_is_skipped_without_asking_the_provider() -> None:
    # its anchor moved to its last change, less than a quiet period ago: its webhook may be in flight
    deps, _, _, provider, _ = _worker(_snapshot(AUTHORIZED), anchor=NOW - timedelta(minutes=5))

    report = check_due_payments([REF], deps, now=NOW, run_id="r1")

    assert (report.skipped, report.checked) == (1, 0)
    assert provider is not None and provider.calls == 0


def test_a_provider_without_an_api_is_counted_and_nothing_written() -> None:
    deps, payments, _, _, heard = _worker(None)

    report = check_due_payments([REF], deps, now=NOW, run_id="r1")

    assert report.without_api == 1 and payments.saved == [] and heard == []


@pytest.mark.parametrize(
    "failure",
    [TransientProviderError("timeout"), PermanentProviderError("no such charge", code="invalid_id")],
)
def test_a_provider_failure_is_reported_and_waits_for_the_next_check(failure: ProviderError) -> None:
    deps, payments, _, _, _ = _worker(failure)

    assert check_due_payments([REF], deps, now=NOW, run_id="r1").failed == ["payjp/ch_1"]
    assert payments.saved == []


class _MeetingProvider(Provider):
    """Answers only once ``meet`` checks are waiting at once: a batch checked one by one never gets
    past the first call (the barrier breaks after its timeout and the check raises)."""

    def __init__(self, answer: ProviderPayment, meet: int) -> None:
        super().__init__(answer)
        self._barrier = threading.Barrier(meet, timeout=10)
        self._lock = threading.Lock()

    def retrieve(self, payment_id: str) -> ProviderPayment:
        with self._lock:
            self.calls += 1
        self._barrier.wait()
        assert isinstance(self.answer, ProviderPayment)
        return self.answer


def test_a_batchs_payments_are_checked_at_once_one_provider_round_trip_for_the_batch() -> None:
    deps, payments, due, _, _ = _worker(_snapshot(AUTHORIZED))
    provider = _MeetingProvider(_snapshot(AUTHORIZED), meet=deps.concurrency)
    deps = replace(deps, provider_for=lambda name: provider)
    refs = [DueRef(provider="payjp", payment_id=f"ch_{n}") for n in range(deps.concurrency)]

    report = check_due_payments(refs, deps, now=NOW, run_id="r1")

    assert deps.concurrency == 10  # a whole message of the scheduler's
    assert provider.calls == 10 and (report.checked, report.unchanged, report.failed) == (10, 10, [])
    assert due.reads == 10 and payments.saved == []  # a read each, nothing written


def test_one_at_a_time_when_asked_and_the_report_keeps_the_batchs_order() -> None:
    deps, _, _, _, _ = _worker(TransientProviderError("timeout"))
    refs = [DueRef(provider="payjp", payment_id=f"ch_{n}") for n in range(5)]

    for concurrency in (1, 5):
        report = check_due_payments(refs, replace(deps, concurrency=concurrency), now=NOW, run_id="r1")
        assert report.failed == [ref.key for ref in refs] and report.checked == 5


_ACTING: contextvars.ContextVar[str] = contextvars.ContextVar("acting", default="nobody")


class _ContextProvider(Provider):
    """Notes the context variable each check sees (the sandbox signs with the acting function's role)."""

    def __init__(self, answer: ProviderPayment) -> None:
        super().__init__(answer)
        self.seen: list[str] = []

    def retrieve(self, payment_id: str) -> ProviderPayment:
        self.seen.append(_ACTING.get())
        return super().retrieve(payment_id)


def test_checks_at_once_run_in_the_callers_context() -> None:
    deps, _, _, _, _ = _worker(_snapshot(AUTHORIZED))
    provider = _ContextProvider(_snapshot(AUTHORIZED))
    deps = replace(deps, provider_for=lambda name: provider)
    refs = [DueRef(provider="payjp", payment_id=f"ch_{n}") for n in range(4)]

    token = _ACTING.set("janitor_worker")
    try:
        check_due_payments(refs, deps, now=NOW, run_id="r1")
    finally:
        _ACTING.reset(token)

    assert provider.seen == ["janitor_worker"] * 4
