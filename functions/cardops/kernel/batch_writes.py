"""Bulk DynamoDB reads and writes: BatchGetItem / BatchWriteItem, a few at once, paced per partition.

Why: a feed sync stores 100k lines; one conditional PutItem each is 100k round trips. BatchWriteItem
takes 25 items a call and BatchGetItem 100 keys, and ``parallelism`` calls run at once. DynamoDB
answers what it could not do now as ``UnprocessedItems``/``UnprocessedKeys``: those are sent again
after a jittered backoff (``kernel/backoff.py``), and still-unprocessed work after the budget is a
``StoreUnavailable`` (the caller's run fails and resumes; nothing is half-known).

One partition takes 1,000 WCU/s, in the table and in each index alike, and an item of n KiB costs n
WCU on its table partition and on the partition of every index key it carries. The ``Pacer`` holds
each partition key's writes to that rate (a token bucket per key, one second of burst), so a run
never relies on DynamoDB throttling to slow it down; callers spread their keys so it rarely waits.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from cardops.kernel.aws import StoreUnavailable
from cardops.kernel.backoff import Backoff

#: BatchWriteItem and BatchGetItem limits per call
WRITE_BATCH = 25
READ_BATCH = 100
#: What one partition (table or index) takes per second.
PARTITION_WCU_PER_SECOND = 1_000.0
#: Unprocessed work is retried with this (about 4 s of sleep at most): a throttled partition
#: recovers within a second or two; longer means the run should stop and be resumed.
UNPROCESSED = Backoff(attempts=8, base_seconds=0.05, cap_seconds=1.0)

Item = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's size of an item: attribute names plus values (strings as UTF-8, numbers ~ digits)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        for kind, content in value.items():
            if kind in ("S", "N"):
                size += len(str(content).encode())
            elif kind == "B":
                size += len(content)
            else:  # lists, maps, sets, booleans: a generous estimate (never used by the feed items)
                size += len(repr(content).encode())
    return size


def write_units(item: Mapping[str, Any]) -> int:
    """WCU one write of the item costs on each partition it touches (1 per started KiB)."""
    return max(1, math.ceil(item_size(item) / 1024))


class Pacer:
    """At most ``rate`` WCU a second on every partition key, with one second of burst.

    ``acquire`` takes the units at once (so later callers queue behind them) and then sleeps for
    whatever the busiest key still lacks. Clock and sleep are injectable: tests never sleep.
    """

    def __init__(
        self,
        rate: float = PARTITION_WCU_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a pacer needs a positive rate")
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0
        self._tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, units: Mapping[str, int]) -> float:
        """Take ``units`` per partition key; returns the seconds slept for them."""
        with self._lock:
            now = self.clock()
            needed = 0.0
            for key, cost in units.items():
                tokens, at = self._tokens.get(key, (self.rate, now))
                tokens = min(self.rate, tokens + (now - at) * self.rate) - cost
                self._tokens[key] = (tokens, now)
                needed = max(needed, -tokens / self.rate)
            if len(self._tokens) > 10_000:  # forget keys whose bucket is full again
                self._tokens = {
                    k: (t, a) for k, (t, a) in self._tokens.items() if t + (now - a) * self.rate < self.rate
                }
            self.waited += needed
        if needed > 0:
            self.sleep(needed)
        return needed


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BatchWriter:
    """Puts and gets many items of one table through a bounded pool, paced per partition key.

    ``partition_attributes`` names the table's partition key and each index's partition key:
    an item's write is charged to every one of them it carries.
    """

    def __init__(
        self,
        client: Any,
        table: str,
        partition_attributes: Sequence[str],
        *,
        parallelism: int = 4,
        pacer: Pacer | None = None,
        backoff: Backoff = UNPROCESSED,
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.client = client
        self.table = table
        self.partition_attributes = tuple(partition_attributes)
        self.parallelism = parallelism
        self.pacer = pacer or Pacer()
        self.backoff = backoff
        #: calls made, for benchmarks and tests
        self.calls = 0
        self._count = threading.Lock()

    def units(self, batch: Iterable[Item]) -> dict[str, int]:
        """WCU per partition key (``attribute=value``) of one batch."""
        units: dict[str, int] = {}
        for item in batch:
            cost = write_units(item)
            for attribute in self.partition_attributes:
                if (value := item.get(attribute)) is not None:
                    key = f"{attribute}={value.get('S', value.get('N', ''))}"
                    units[key] = units.get(key, 0) + cost
        return units

    def put_all(self, items: Sequence[Item]) -> None:
        """Every item written (unconditionally: callers check existence first when it matters)."""
        batches = list(chunks(items, WRITE_BATCH))
        self._run(batches, self._write, before=lambda batch: self.pacer.acquire(self.units(batch)))

    def get_all(self, keys: Sequence[Item], projection: str | None) -> list[Item]:
        """The items stored under ``keys`` (only ``projection``; whole when None), in no particular
        order; strongly consistent, as the callers check what they just wrote."""
        found: list[Item] = []
        for part in self._run(list(chunks(keys, READ_BATCH)), lambda batch: self._get(batch, projection)):
            found.extend(part)
        return found

    def _run(
        self,
        batches: list[Sequence[Item]],
        call: Callable[[Sequence[Item]], R],
        before: Callable[[Sequence[Item]], object] | None = None,
    ) -> list[R]:
        if len(batches) <= 1 or self.parallelism == 1:
            results = []
            for batch in batches:
                if before is not None:
                    before(batch)
                results.append(call(batch))
            return results
        results_by_index: dict[int, R] = {}
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="batch") as pool:
            running: dict[Future[R], int] = {}
            try:
                for index, batch in enumerate(batches):
                    if len(running) >= self.parallelism:
                        self._collect(running, results_by_index, FIRST_COMPLETED)
                    if before is not None:
                        before(batch)
                    running[pool.submit(call, batch)] = index
                while running:
                    self._collect(running, results_by_index, FIRST_COMPLETED)
            finally:
                for future in running:
                    future.cancel()
        return [results_by_index[i] for i in range(len(batches))]

    @staticmethod
    def _collect(running: dict[Future[R], int], results: dict[int, R], when: str) -> None:
        done, _ = wait(running, return_when=when)
        for future in done:
            results[running.pop(future)] = future.result()  # a failed batch fails the whole call

    def _counted(self) -> None:
        with self._count:
            self.calls += 1

    def _write(self, batch: Sequence[Item]) -> None:
        request: dict[str, Any] = {self.table: [{"PutRequest": {"Item": item}} for item in batch]}
        for _ in self.backoff.tries():
            self._counted()
            response = self.client.batch_write_item(RequestItems=request)
            unprocessed = response.get("UnprocessedItems", {}).get(self.table)
            if not unprocessed:
                return
            request = {self.table: unprocessed}
        raise StoreUnavailable(f"BatchWriteItem: {len(request[self.table])} items still unprocessed")

    def _get(self, keys: Sequence[Item], projection: str | None) -> list[Item]:
        request: dict[str, Any] = {self.table: {"Keys": list(keys), "ConsistentRead": True}}
        if projection is not None:
            request[self.table]["ProjectionExpression"] = projection
        found: list[Item] = []
        for _ in self.backoff.tries():
            self._counted()
            response = self.client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(self.table, []))
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table)
            if not unprocessed:
                return found
            request = {self.table: unprocessed}
        raise StoreUnavailable(f"BatchGetItem: {len(request[self.table]['Keys'])} keys still unprocessed")
