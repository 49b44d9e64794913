"""A store ledger at scale (issue 13 item 5): AWS calls and items read per operation, by entry count.

A ledger of N entries is seeded straight into moto's table (BatchWriteItem of the items a posting
writes, and the balance item's ``ADD`` once; not timed; the small-scale test's ``seed_ledger``).
Then, counted with ``tests.helpers.counting_aws_calls``: the store's balance (``GET …/balance``),
a statement page (``GET …/statement`` from the day of the newest entry: the default page of 100
entries of that day, the running balance opening from the balance item), the newest page (the
console's), a payout request and a batch settlement. The figures are
counts, whatever the machine; goal (issue 13): independent of N (O(1) or paged). The seconds are
moto's, for scale only. Sizes: ``CARDOPS_BENCH_LEDGER_SIZES`` (default 1000,10000,100000).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from tests.benchmarks.bench_workflows import _workflow_environment

SIZES = tuple(int(n) for n in os.environ.get("CARDOPS_BENCH_LEDGER_SIZES", "1000,10000,100000").split(","))
NOW = datetime(2026, 5, 7, 3, 0, tzinfo=UTC)


def _measure(size: int) -> dict[str, float]:
    from cardops.kernel.calendar import tokyo_date
    from cardops.ledger.domain.ledger import Channel
    from cardops.ledger.domain.statement import Order
    from cardops.ledger.wiring import ledger_service
    from cardops.sandbox.moto_query import partition_queries
    from tests.helpers import counting_aws_calls
    from tests.integration.ledger.test_ledger_scale import seed_ledger

    figures: dict[str, float] = {}
    store_id = f"store-{size}"
    with _workflow_environment(), partition_queries():
        seed_ledger(store_id, size, now=NOW)
        service = ledger_service()
        # the seed posts an entry every 30 s up to 60 days before NOW: the newest entry's day
        last_day = tokyo_date(NOW - timedelta(days=60) + timedelta(seconds=30 * (size - 1)))
        operations = {
            "balance": lambda: service.balances(store_id, now=NOW),
            "statement page (last day)": lambda: service.statement(
                store_id, Channel.STANDARD, "JPY", now=NOW, since=last_day
            ),
            "statement page (newest first)": lambda: service.statement(
                store_id, Channel.STANDARD, "JPY", now=NOW, limit=50, order=Order.NEWEST_FIRST
            ),
            "payout": lambda: service.request_payout(
                store_id, Channel.STANDARD, "JPY", request_id="bench-payout", now=NOW, actor="bench"
            ),
            "settlement": lambda: service.settle(
                store_id, Channel.STANDARD, "JPY", settlement_id="bench-settle", now=NOW, actor="bench"
            ),
        }
        for name, operation in operations.items():
            start = time.perf_counter()
            with counting_aws_calls() as calls:
                operation()
            figures[f"{name}, {size:,} entries: AWS calls"] = calls.total()
            figures[f"{name}, {size:,} entries: items read"] = calls.items_read
            figures[f"{name}, {size:,} entries: seconds (moto)"] = time.perf_counter() - start
    return figures


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    for size in SIZES:
        figures.update(_measure(size))
    first, last = SIZES[0], SIZES[-1]
    for name in (
        "balance",
        "statement page (last day)",
        "statement page (newest first)",
        "payout",
        "settlement",
    ):
        # goal 1.0: the items read do not grow with the entry count
        figures[f"{name}: items read {last:,} / {first:,} entries (goal 1)"] = figures[
            f"{name}, {last:,} entries: items read"
        ] / max(figures[f"{name}, {first:,} entries: items read"], 1)
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<60} {value:>14.3f}")
