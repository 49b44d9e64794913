"""The janitor's work per run follows what is due, not what is open (issue 11 item 4), at suite size.

The same periods as ``tests/benchmarks/bench_janitor_scale.py`` (100,000 open payments there), with
IAM enforced: the reads of a run are the same whether 400 or 2,400 payments are open, every payment
due in the period is checked in it, and a check that finds nothing writes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cardops.kernel import clock
from cardops.payments.store.due_checks import OPEN_SHARDS
from tests.benchmarks.bench_janitor_scale import Seeder, _no_listeners, _one_period, _verify, running_since


def test_reads_per_run_follow_the_due_payments_not_the_open_ones(emulator: Any, provisioned: Any) -> None:
    now = clock.now().replace(microsecond=0)
    period = timedelta(minutes=15)
    seeder = Seeder(provisioned, now)
    seeder.oldest_per_shard()
    running_since(now)
    windows = [(now - period, now), (now, now + period)]
    runs = []
    for at, open_total in ((now, 400), (now + period, 2_400)):
        seeder.now = at
        due = seeder.due(emulator, 30, captured=3)
        seeder.not_due(open_total - seeder.open, windows=windows)
        runs.append(_one_period(provisioned, at, _no_listeners))
        _verify(seeder, due, 3)
    small, large = runs
    # the seeded store's first repaired captures in this container read whether the store is listed
    # (``StoreMarkers``; the ``aws`` fixture starts with an empty memo): one read, or up to one per
    # repair when the three are checked at once (``WorkerDeps.concurrency``) before any is written;
    # the second period's know it
    first_marker_reads = small["worker GetItem (1 item each)"] - 30
    assert 1 <= first_marker_reads <= 3
    for run, marker_reads in zip(runs, (first_marker_reads, 0), strict=True):
        assert run["enqueued"] == 30
        # the due index entries, and each shard's oldest anchor: nothing else
        assert run["scheduler items read"] == 30 + OPEN_SHARDS
        # its due state (the merge takes that payment): one read per due payment
        assert run["worker GetItem (1 item each)"] == 30 + marker_reads
        assert run["worker UpdateItem"] == 0 and run["worker TransactWriteItems (repairs)"] == 3
    small["worker GetItem (1 item each)"] -= first_marker_reads
    reads = (
        "scheduler Query calls",
        "scheduler items read",
        "worker GetItem (1 item each)",
        "worker Query calls",
    )
    assert {k: small[k] for k in reads} == {k: large[k] for k in reads}  # with six times as many open
