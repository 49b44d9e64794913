"""The janitor at scale on moto (issue 11 item 4): work per run follows what is due, not what is open.

Open payments are seeded straight into moto's table (the benchmark only: 100,000 ``PutItem`` calls
through botocore would take minutes), each on the due index with its anchor (its last change, up to
a day old, and one per shard a day and a bit, so every run reads the same ranges); a few thousand
have a check due in the period (at every offset up to a day), and one in a hundred of those was
captured at the PAY.JP emulator with the webhook lost. The janitor has been running (its checkpoint
ends a period before). One period is then run as deployed: the scheduler handler (as its Lambda
would be invoked by the schedule) enqueues what is due, and the worker handler takes every message
from the janitor queue (as its SQS trigger would). Checked: every due payment was checked in that
one period (the captured ones repaired, the rest left exactly as they were: a check that finds
nothing writes nothing) and nothing else was touched; the reads are counted per AWS call
(``counting_aws_calls``: DynamoDB items in ``Query`` answers, plus one item per ``GetItem``).

The worker runs without payment listeners here: their work is per checked payment whatever the
open count, and moto answers a partition ``Query`` (their history read) by sorting the whole
table, which on 100,000 payments costs moto seconds per call, not DynamoDB.

``python -m tests.benchmarks.bench_janitor_scale`` writes ``reports/scale-janitor.md``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

#: (open payments in the table, due at the run, of which captured with the webhook lost)
SCENARIOS = ((100_000, 3_000, 30), (100_000, 300, 3))
REPORT = Path("reports") / "scale-janitor.md"


@contextmanager
def light_transaction_backups() -> Iterator[None]:
    """Benchmark only: a transaction's rollback copy holds the table's item maps, not every item.

    moto deep-copies the whole table for each item of a ``TransactWriteItems`` (to restore it if the
    transaction fails): on 100,000 payments that is seconds and gigabytes per repair, a cost of the
    emulation, not of DynamoDB. The payment write's transaction is two puts, and a put replaces its
    item, so copying the maps (item objects shared) restores the same state.
    """
    import copy
    import types
    from collections import defaultdict

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def backup(value: Any, memo: Any = None) -> Any:
        if not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        clone = copy.copy(value)
        clone.items = defaultdict(dict, {h: dict(r) for h, r in value.items.items()})
        return clone

    original = models.copy  # type: ignore[attr-defined]
    models.copy = types.SimpleNamespace(deepcopy=backup, copy=copy.copy)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        models.copy = original  # type: ignore[attr-defined]


@contextmanager
def _environment() -> Iterator[tuple[Any, Any]]:
    from cardops import resources
    from cardops.kernel.config import reset_settings
    from cardops.payments.providers import registry
    from cardops.sandbox.payjp_emulator import PayjpEmulator
    from tests.benchmarks.bench_workflows import _workflow_environment

    with _workflow_environment() as made:
        emulator = PayjpEmulator(secret_key=resources.SANDBOX_SECRETS["payjp_secret_key"])
        emulator.start()
        import os

        os.environ["PAYJP_API_BASE"] = emulator.url
        reset_settings()
        registry.reset()
        try:
            yield made, emulator
        finally:
            emulator.stop()
            registry.reset()


def _table(made: Any) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["ap-northeast-1"].get_table(made.table_name)


#: the age of the oldest anchor in every shard: the scheduler reads the ranges of the offsets up to it
OLDEST = timedelta(days=1, minutes=7)


class Seeder:
    """Open payments written into moto's table directly, each with its due-index entry."""

    def __init__(self, made: Any, now: datetime) -> None:
        from cardops.payments.domain.payments import Payment, PaymentFacts, PaymentMetadata, PaymentStatus

        self.table = _table(made)
        self.now = now
        self.template = Payment(
            provider="payjp",
            provider_payment_id="ch_template",
            version=1,
            status=PaymentStatus.AUTHORIZED,
            facts=PaymentFacts(currency="JPY", authorized_amount=6000, authorized_at=now - timedelta(days=2)),
            metadata=PaymentMetadata(store_id="store_042"),
            created_at=now - timedelta(days=2),
            updated_at=now - timedelta(days=2),
        )
        self.open = 0
        #: each seeded payment's anchor
        self.anchors: dict[str, datetime] = {}

    def put(self, payment: Any, anchor: datetime) -> None:
        from cardops.kernel.dynamodb import payment_pk
        from cardops.payments.domain.due_checks import schedule_of
        from cardops.payments.store.due_checks import due_partition, due_sort_key, shard_of

        pk = payment_pk(payment.provider, payment.provider_payment_id)
        self.table.put_item(
            {
                "pk": {"S": pk},
                "sk": {"S": "#PAYMENT"},
                "doc": {"S": payment.model_dump_json()},
                "version": {"N": str(payment.version)},
                "gsi2pk": {"S": due_partition(schedule_of(payment), shard_of(pk))},
                "gsi2sk": {"S": due_sort_key(anchor, pk)},
            }
        )
        self.anchors[payment.provider_payment_id] = anchor
        self.open += 1

    def oldest_per_shard(self) -> None:
        """One payment per shard anchored ``OLDEST`` ago: each shard's earliest anchor, in every run."""
        from cardops.kernel.dynamodb import payment_pk
        from cardops.payments.store.due_checks import OPEN_SHARDS, shard_of

        missing = set(range(OPEN_SHARDS))
        n = 0
        while missing:
            payment_id = f"ch_oldest_{n:03d}"
            shard = shard_of(payment_pk("payjp", payment_id))
            if shard in missing:
                missing.discard(shard)
                self.put(
                    self.template.model_copy(update={"provider_payment_id": payment_id}), self.now - OLDEST
                )
            n += 1

    def not_due(self, count: int, *, windows: list[tuple[datetime, datetime]]) -> None:
        """Open payments anchored 1 to 22 hours ago (younger than ``OLDEST``) whose checks all miss
        ``windows``."""
        from bisect import bisect_right

        from cardops.payments.domain.due_checks import POLICY, Schedule

        offsets = POLICY.offsets(Schedule.AUTHORIZED)

        def due(anchor: datetime) -> bool:
            return any(
                bisect_right(offsets, until - anchor) > bisect_right(offsets, since - anchor)
                for since, until in windows
            )

        for n in range(count):
            anchor = self.now - timedelta(seconds=3_600 + (n * 7919) % 75_600)
            while due(anchor):
                anchor -= timedelta(minutes=7)
            payment = self.template.model_copy(update={"provider_payment_id": f"ch_open_{self.open:07d}"})
            self.put(payment, anchor)

    def due(self, emulator: Any, count: int, captured: int) -> list[str]:
        """Payments with a check due in the period before ``now`` (each offset up to a day in turn),
        authorized at the emulator; ``captured`` of them captured there."""
        from cardops.payments.domain.due_checks import POLICY, Schedule
        from cardops.payments.domain.payments import PaymentStatus
        from cardops.payments.providers.payjp.client import charge_to_payment

        offsets = [offset for offset in POLICY.offsets(Schedule.AUTHORIZED) if offset < timedelta(days=1)]
        ids = []
        for n in range(count):
            charge = emulator.create_charge(
                {
                    "amount": "6000",
                    "currency": "jpy",
                    "card": "tok_visa",
                    "capture": "false",
                    "expiry_days": "30",
                }
            )
            facts = charge_to_payment(charge).facts
            payment = self.template.model_copy(
                update={
                    "provider_payment_id": charge["id"],
                    "facts": facts,
                    "status": PaymentStatus.AUTHORIZED,
                }
            )
            if n < captured:
                emulator.capture_charge(charge["id"], {})  # and the webhook is lost
            # its check due up to 899 s before now: within the period, the next one after the next period
            self.put(payment, self.now - offsets[n % len(offsets)] - timedelta(seconds=1 + (n * 131) % 899))
            ids.append(str(charge["id"]))
        return ids


def running_since(now: datetime) -> None:
    """The janitor's checkpoint as a scheduler running every period leaves it: its last cutoff a
    period before ``now``."""
    from cardops.payments.domain.due_checks import RunCheckpoint
    from cardops.payments.store.due_checks import Checkpoints
    from cardops.resources import JANITOR_PERIOD_MINUTES

    period = timedelta(minutes=JANITOR_PERIOD_MINUTES)
    done = RunCheckpoint(run_id="before", cutoff=now - period, since=now - 2 * period, finished=True)
    assert Checkpoints().save(done, expected_seq=None)


def _one_period(made: Any, now: datetime, monkeypatch_listeners: Any) -> dict[str, float]:
    from cardops.handlers import janitor, janitor_worker
    from cardops.kernel import clock
    from cardops.sandbox.lambda_runner import FakeContext
    from cardops.sandbox.queue_worker import QueueWorker
    from tests.helpers import counting_aws_calls

    original_now = clock.now
    clock.now = lambda: now  # type: ignore[assignment]
    try:
        with monkeypatch_listeners(), counting_aws_calls() as scheduler:
            started = time.perf_counter()
            result = janitor.handler({"source": "aws.events"}, FakeContext("janitor"))
            scheduled = time.perf_counter() - started
        _progress(f"scheduler enqueued {result['enqueued']:,} in {scheduled:.0f} s")
        queue = QueueWorker(made.janitor_queue_url, janitor_worker.handler)
        with monkeypatch_listeners(), counting_aws_calls() as worker:
            started = time.perf_counter()
            while queue.drain_once(wait_seconds=0):
                pass
            checked = time.perf_counter() - started
    finally:
        clock.now = original_now  # type: ignore[method-assign]
    assert result["finished"], result
    return {
        "enqueued": result["enqueued"],
        "scheduler Query calls": scheduler["dynamodb:Query"],
        # the due index's entries (Query); the run's checkpoint GetItem is counted with its writes
        "scheduler items read": scheduler.items_queried,
        "scheduler SendMessageBatch calls": scheduler["sqs:SendMessageBatch"],
        "scheduler checkpoint writes": scheduler["dynamodb:PutItem"],
        "scheduler seconds (moto)": scheduled,
        "worker GetItem (1 item each)": worker["dynamodb:GetItem"],
        # a check that finds nothing writes nothing: no next-check update any more (0)
        "worker UpdateItem": worker["dynamodb:UpdateItem"],
        "worker TransactWriteItems (repairs)": worker["dynamodb:TransactWriteItems"],
        "worker Query calls": worker["dynamodb:Query"],
        "worker seconds (moto + emulator)": checked,
    }


@contextmanager
def _no_listeners() -> Iterator[None]:
    """The worker runs no listeners (the change feed does), so there is nothing to switch off."""
    yield


def _verify(seeder: Seeder, due_ids: list[str], captured: int) -> None:
    """Every due payment checked in the period: repaired (captured, off the index) or untouched."""
    from cardops.payments.domain.due_checks import DueRef
    from cardops.payments.store.due_checks import DuePayments

    store = DuePayments()
    for n, payment_id in enumerate(due_ids):
        state = store.state(DueRef(provider="payjp", payment_id=payment_id))
        if n < captured:
            assert state is None, f"{payment_id} was not repaired"
        else:
            assert state is not None and state.payment.version == 1, payment_id
            assert state.anchor == seeder.anchors[payment_id], payment_id


def run() -> dict[str, float]:
    from cardops.kernel import clock

    figures: dict[str, float] = {}
    rows: list[dict[str, float]] = []
    with _environment() as (made, emulator), light_transaction_backups():
        now = clock.now().replace(microsecond=0)
        period = timedelta(minutes=15)
        seeder = Seeder(made, now)
        seeder.oldest_per_shard()
        running_since(now)
        windows = [(now - period * (1 - n), now + period * n) for n in range(len(SCENARIOS))]
        for n, (open_total, due, captured) in enumerate(SCENARIOS):
            at = now + period * n
            seeder.now = at
            started = time.perf_counter()
            due_ids = seeder.due(emulator, due, captured)
            seeder.not_due(open_total - seeder.open, windows=windows)
            seeded = time.perf_counter() - started
            _progress(f"seeded {seeder.open:,} open payments in {seeded:.0f} s")
            row: dict[str, float] = {
                "open payments": seeder.open,
                "due": due,
                "captured at provider": captured,
            }
            row |= _one_period(made, at, _no_listeners)
            row["seed seconds"] = seeded
            _verify(seeder, due_ids, captured)
            rows.append(row)
            for key, value in row.items():
                figures[f"{open_total:,} open / {due:,} due: {key}"] = value
            _progress(f"{open_total:,} open / {due:,} due: {row}")
    _write(rows)
    return figures


def _progress(line: str) -> None:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"[janitor scale] {line} (peak RSS {peak} MB)", file=sys.stderr, flush=True)


def _write(rows: list[dict[str, float]]) -> None:
    keys = list(rows[0])
    lines = [
        "# Janitor at scale (moto, in-process)",
        "",
        "One janitor period per column: the scheduler handler enqueues what is due, the worker handler",
        "takes every janitor-queue message. Items read = DynamoDB items in the scheduler's `Query`",
        "answers + one per worker `GetItem` (a payment's due state, which the merge then uses).",
        "Every due payment was checked in its period (captured ones repaired and off the index, the",
        "rest not written at all); no payment that was not due was read. The scheduler reads, per",
        "schedule (pending, authorized) and shard, its oldest anchor and one range per check offset",
        "up to it: here the oldest anchors are a day old (8 authorized shards × (1 + 6 ranges) + 8",
        "empty pending shards = 64 Query calls, whatever the open count); with payments open up to",
        "the 60-day horizon it is 8 × (2 + 243 + 65) = 2,480 a run, a fixed cost (the cost model's",
        "janitor_scheduler). Times are moto's and the local PAY.JP emulator's on a shared 2-core",
        "machine, for scale only: moto answers every index query by scanning and sorting the whole",
        "table (DynamoDB reads only the index range), so the scheduler's seconds follow the table",
        "size on moto and not in DynamoDB.",
        "",
        "| figure | "
        + " | ".join(f"{int(r['open payments']):,} open / {int(r['due']):,} due" for r in rows)
        + " |",
        "| --- |" + " ---: |" * len(rows),
    ]
    for key in keys:
        values = []
        for r in rows:
            value = r[key]
            values.append(f"{value:,.1f}" if "seconds" in key else f"{int(value):,}")
        lines.append(f"| {key} | " + " | ".join(values) + " |")
    lines += [
        "",
        "Per-run reads per due payment: "
        + ", ".join(
            f"{(r['scheduler items read'] + r['worker GetItem (1 item each)']) / r['due']:.2f} "
            f"({int(r['open payments']):,} open)"
            for r in rows
        )
        + ".",
        "",
    ]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<70} {value:>12,.2f}")
    print(f"wrote {REPORT}")
