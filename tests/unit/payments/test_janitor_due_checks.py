"""Issue 11 item 4: the janitor's due-check policy and its scheduler (in memory; the table is in the
integration tests and the scale benchmark)."""

from __future__ import annotations

import contextvars
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cardops.payments.domain.due_checks import POLICY, DueCheckPolicy, DueRef, DueState, RunCheckpoint
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


def test_the_jitter_is_bounded_stable_per_payment_and_spreads_payments() -> None:
    policy = DueCheckPolicy(jitter=0.1)
    times = {policy.next_check(since=NOW, checks=2, key=f"payjp/ch_{n}") for n in range(200)}
    wait = policy.interval(2)
    assert all(NOW + wait <= t < NOW + wait * 1.1 for t in times)
    assert len(times) == 200  # payments opened together do not come due together
    again = policy.next_check(since=NOW, checks=2, key="payjp/ch_7")
    assert again == policy.next_check(since=NOW, checks=2, key="payjp/ch_7")


def test_the_policy_refuses_naive_times_and_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DueCheckPolicy().next_check(since=datetime(2026, 12, 5), checks=0, key="k")
    with pytest.raises(ValueError):
        DueCheckPolicy(quiet=timedelta(hours=2), cap=timedelta(hours=1))
    with pytest.raises(ValueError):
        DueCheckPolicy(jitter=1.0)


# --- the scheduler ------------------------------------------------------------------------------


def _ref(n: int) -> DueRef:
    return DueRef(provider="payjp", payment_id=f"ch_{n:05d}")


def _index(due: int, later: int, shards: int = 4) -> FakeDueIndex:
    """``due`` entries due before NOW and ``later`` entries due after it, spread over the shards."""
    entries: dict[int, list[tuple[datetime, DueRef]]] = {s: [] for s in range(shards)}
    for n in range(due + later):
        at = NOW - timedelta(minutes=1 + n) if n < due else NOW + timedelta(minutes=1 + n)
        entries[n % shards].append((at, _ref(n)))
    return FakeDueIndex(entries)


def _deps(index: FakeDueIndex, **overrides: Any) -> tuple[SchedulerDeps, FakeCheckpoints, FakeCheckQueue]:
    checkpoints, queue = FakeCheckpoints(), FakeCheckQueue()
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
    assert index.reads == 57  # the 500 payments not due yet are never read
    assert checkpoints.stored is not None and checkpoints.stored.finished
    assert checkpoints.saves == 1 + run.pages  # the claim, then one save per page


def test_a_run_out_of_time_stops_after_a_page_and_the_next_invocation_resumes_it() -> None:
    index = _index(due=57, later=0)
    deps, checkpoints, queue = _deps(index)
    budget = iter([60.0, 60.0, 60.0, 5.0])  # three pages, then too little time for another

    (first,) = schedule_due_checks(deps, now=NOW, time_left=lambda: next(budget))

    assert not first.finished and first.pages == 3 and first.enqueued == len(queue.refs())
    stored = checkpoints.stored
    assert stored is not None and not stored.finished and stored.cutoff == NOW
    # a payment that came due after the first run's cutoff belongs to the next run, not the resumed one
    index.entries[0].append((NOW + timedelta(minutes=5), _ref(99_999)))
    later = NOW + timedelta(minutes=15)

    resumed, fresh = schedule_due_checks(deps, now=later, time_left=lambda: 60.0)

    assert resumed.resumed and resumed.finished and resumed.run_id == first.run_id
    assert first.enqueued + resumed.enqueued == 57
    first_run = [ref for run_id, batch in queue.messages if run_id == first.run_id for ref in batch]
    assert sorted(r.payment_id for r in first_run) == [f"ch_{n:05d}" for n in range(57)]  # none twice
    assert not fresh.resumed and fresh.finished and fresh.cutoff == later.isoformat()
    assert _ref(99_999) in [
        ref for run_id, batch in queue.messages if run_id == fresh.run_id for ref in batch
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
    (run,) = schedule_due_checks(replace(deps, checkpoints=racing), now=NOW, time_left=lambda: 60.0)

    assert run.superseded and not run.finished and run.pages == 0
    # the page it had sent (shard 0, eight due): the winner may send it again, the worker skips those
    assert len(queue.refs()) == len(index.entries[0]) == 8


def test_nothing_due_costs_one_empty_page_per_shard() -> None:
    index = _index(due=0, later=100)
    deps, _, queue = _deps(index)

    (run,) = schedule_due_checks(deps, now=NOW, time_left=lambda: 60.0)

    assert run.finished and run.enqueued == 0 and run.pages == 4
    assert queue.messages == [] and index.reads == 0


def test_a_retry_within_the_period_only_finishes_the_run_it_resumes() -> None:
    index = _index(due=20, later=0)
    deps, _, queue = _deps(index)
    budget = iter([60.0, 5.0])
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

    def get(self, provider: str, payment_id: str) -> Payment | None:
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
    answer: ProviderPayment | ProviderError | None,
    *,
    due_at: datetime = NOW - timedelta(minutes=1),
    checks: int = 2,
) -> tuple[Any, MemoryPayments, FakeDue, Provider | None, list[Applied]]:
    payments = MemoryPayments(_payment())
    due = FakeDue(DueState(payment=payments.payment, next_check_at=due_at, checks=checks, index_key="k"))
    provider = Provider(answer) if answer is not None else None
    heard: list[Applied] = []
    deps = WorkerDeps(due=due, payments=payments, provider_for=lambda name: provider)
    return deps, payments, due, provider, heard


def _snapshot(facts: PaymentFacts) -> ProviderPayment:
    return ProviderPayment(provider_payment_id="ch_1", facts=facts, metadata=PaymentMetadata())


def test_nothing_new_writes_nothing_but_backs_the_next_check_off() -> None:
    deps, payments, due, _, heard = _worker(_snapshot(AUTHORIZED))

    report = check_due_payments([REF], deps, now=NOW, run_id="r1")

    assert (report.checked, report.unchanged, report.repaired) == (1, 1, [])
    assert payments.saved == [] and heard == []
    wait = POLICY.interval(3)  # the third check that found nothing
    assert len(due.rescheduled) == 1 and NOW + wait <= due.rescheduled[0] < NOW + wait * 1.1


def test_a_lost_capture_is_applied_and_the_write_sets_the_next_check() -> None:
    captured = AUTHORIZED.model_copy(
        update={"captured_amount": 6000, "captured_at": NOW - timedelta(hours=1)}
    )
    deps, payments, due, _, _ = _worker(_snapshot(captured))

    report = check_due_payments([REF], deps, now=NOW, run_id="r1")

    assert report.repaired == ["payjp/ch_1"]
    assert payments.payment.status is PaymentStatus.CAPTURED
    assert payments.saved[0].history.actor == "janitor" and payments.saved[0].history.event_id == "janitor:r1"
    assert due.rescheduled == []


def test_not_due_any_more_is_skipped_without_asking_the_provider() -> None:
    deps, _, due, provider, _ = _worker(_snapshot(AUTHORIZED), due_at=NOW + timedelta(minutes=5))

    report = check_due_payments([REF], deps, now=NOW, run_id="r1")

    assert (report.skipped, report.checked) == (1, 0)
    assert provider is not None and provider.calls == 0 and due.rescheduled == []


def test_a_provider_without_an_api_is_asked_less_and_less_often() -> None:
    deps, _, due, _, heard = _worker(None)

    report = check_due_payments([REF], deps, now=NOW, run_id="r1")

    assert report.without_api == 1 and len(due.rescheduled) == 1 and heard == []


def test_a_transient_provider_failure_stays_due_and_a_refusal_backs_off() -> None:
    deps, _, due, _, _ = _worker(TransientProviderError("timeout"))
    assert check_due_payments([REF], deps, now=NOW, run_id="r1").failed == ["payjp/ch_1"]
    assert due.rescheduled == []  # the next run asks again

    deps, _, due, _, _ = _worker(PermanentProviderError("no such charge", code="invalid_id"))
    assert check_due_payments([REF], deps, now=NOW, run_id="r1").failed == ["payjp/ch_1"]
    assert len(due.rescheduled) == 1


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
    assert len(due.rescheduled) == 10 and payments.saved == []


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
