"""BatchWriter and Pacer (kernel/batch_writes.py) against a fake DynamoDB client: no AWS, no sleeping."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cardops.kernel.aws import StoreUnavailable
from cardops.kernel.backoff import Backoff
from cardops.kernel.batch_writes import BatchWriter, Pacer, write_units

TABLE = "t"


class FakeDynamo:
    """Leaves the first ``unprocessed`` answers' last item unprocessed, then takes everything."""

    def __init__(self, unprocessed: int = 0) -> None:
        self.unprocessed = unprocessed
        self.written: list[str] = []
        self.requests: list[int] = []
        self.lock = threading.Lock()
        self.stored: dict[str, dict[str, Any]] = {}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        requests = RequestItems[TABLE]
        with self.lock:
            self.requests.append(len(requests))
            if self.unprocessed > 0:
                self.unprocessed -= 1
                done, left = requests[:-1], requests[-1:]
            else:
                done, left = requests, []
            for request in done:
                item = request["PutRequest"]["Item"]
                self.written.append(item["sk"]["S"])
                self.stored[item["sk"]["S"]] = item
        return {"UnprocessedItems": {TABLE: left} if left else {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        request = RequestItems[TABLE]
        keys = request["Keys"]
        with self.lock:
            if self.unprocessed > 0:
                self.unprocessed -= 1
                keys, left = keys[:-1], keys[-1:]
            else:
                left = []
            found = [self.stored[k["sk"]["S"]] for k in keys if k["sk"]["S"] in self.stored]
        unprocessed = {TABLE: {**request, "Keys": left}} if left else {}
        return {"Responses": {TABLE: found}, "UnprocessedKeys": unprocessed}


def item(n: int, pk: str = "P", size: int = 10) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": f"S{n:04d}"}, "doc": {"S": "x" * size}}


def writer(client: FakeDynamo, **kwargs: Any) -> tuple[BatchWriter, list[float]]:
    slept: list[float] = []
    backoff = Backoff(attempts=4, base_seconds=0.01, cap_seconds=0.1, sleep=slept.append, uniform=lambda: 1.0)
    now = [0.0]
    pacer = Pacer(
        rate=1_000, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s) or slept.append(s)
    )
    return BatchWriter(client, TABLE, ("pk", "gsi1pk"), backoff=backoff, pacer=pacer, **kwargs), slept


@pytest.mark.parametrize("parallelism", [1, 4])
def test_every_item_is_written_25_to_a_call(parallelism: int) -> None:
    client = FakeDynamo()
    batches, _ = writer(client, parallelism=parallelism)
    batches.put_all([item(n, pk=f"P{n % 7}") for n in range(260)])
    assert sorted(client.written) == [f"S{n:04d}" for n in range(260)]
    assert sorted(client.requests) == [10] + [25] * 10


def test_unprocessed_items_are_sent_again_after_a_backoff() -> None:
    client = FakeDynamo(unprocessed=2)
    batches, slept = writer(client, parallelism=1)
    batches.put_all([item(n) for n in range(5)])
    assert sorted(client.written) == [f"S{n:04d}" for n in range(5)]
    assert client.requests == [5, 1, 1] and slept == [0.01, 0.02]


def test_items_still_unprocessed_after_the_budget_are_unavailable() -> None:
    client = FakeDynamo(unprocessed=10)
    batches, _ = writer(client, parallelism=1)
    with pytest.raises(StoreUnavailable, match="1 items still unprocessed"):
        batches.put_all([item(n) for n in range(3)])


def test_unprocessed_keys_are_read_again() -> None:
    client = FakeDynamo()
    batches, _ = writer(client, parallelism=2)
    batches.put_all([item(n) for n in range(150)])
    client.unprocessed = 2
    keys = [{"pk": {"S": "P"}, "sk": {"S": f"S{n:04d}"}} for n in range(0, 300, 2)]
    found = batches.get_all(keys, projection="sk")
    assert sorted(i["sk"]["S"] for i in found) == [f"S{n:04d}" for n in range(0, 150, 2)]


def test_each_partition_key_is_paced_to_its_write_units() -> None:
    client = FakeDynamo()
    batches, slept = writer(client, parallelism=1)
    # 100 items of 2 WCU on one partition: 200 WCU, within a second's burst (the clock stands still)
    batches.put_all([item(n, size=2000) for n in range(100)])
    assert slept == []
    # 1,000 more WCU on the same key: 200 more than the bucket holds, so the writer waits 0.2 s
    batches.put_all([item(n, size=2000) for n in range(100, 600)])
    assert sum(slept) == pytest.approx(0.2)
    # another partition key is not held back by the busy one
    slept.clear()
    batches.put_all([item(n, pk="Q") for n in range(50)])
    assert slept == []


def test_an_item_is_charged_on_every_partition_key_it_carries() -> None:
    batches, _ = writer(FakeDynamo())
    one = {**item(1, size=1500), "gsi1pk": {"S": "E"}}
    assert write_units(one) == 2
    assert batches.units([one, item(2)]) == {"pk=P": 3, "gsi1pk=E": 2}
