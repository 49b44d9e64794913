"""Counts of the functions' own DynamoDB calls and the items they returned (cost tests, benchmarks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Calls:
    operations: Counter[str] = field(default_factory=Counter)
    items_read: int = 0

    def before(self, model: Any = None, **_: Any) -> None:
        self.operations[getattr(model, "name", "?")] += 1

    def after(self, parsed: Any = None, **_: Any) -> None:
        if not isinstance(parsed, dict):
            return
        self.items_read += len(parsed.get("Items", []))
        self.items_read += sum(len(items) for items in parsed.get("Responses", {}).values())

    @property
    def total(self) -> int:
        return sum(self.operations.values())


@contextmanager
def dynamodb_calls() -> Iterator[Calls]:
    """Every DynamoDB call the functions make inside the block, by operation."""
    from cardops.adapters import aws

    calls = Calls()
    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb", calls.before, unique_id=f"count-b-{id(calls)}")
    events.register("after-call.dynamodb", calls.after, unique_id=f"count-a-{id(calls)}")
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb", unique_id=f"count-b-{id(calls)}")
        events.unregister("after-call.dynamodb", unique_id=f"count-a-{id(calls)}")
