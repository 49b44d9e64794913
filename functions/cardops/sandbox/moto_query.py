"""A speed fix for moto in the sandbox: a table Query reads its partition, not the sorted whole table.

moto answers every Query by sorting *all* items of the table (``Table.all_items()``) and filtering
them by hash key, so a query's cost grows with the whole table (seconds at 200k items), which
DynamoDB's does not: a sandbox that has run for a while, or a 100k-line feed, made every query slow.
With this installed, a Query on the table (not an index) gives moto only the items of its hash key,
in the order ``all_items()`` would have listed them; everything else is moto's own code.
Within the partition, the items outside the query's sort-key condition are dropped before moto sees
them (with moto's own ``compare``, which moto applies again), and the rest are sorted once by their
key's value: moto sorts with ``DynamoType`` comparisons (two ``cast_value`` calls each, n log n of
them) and then size-checks every candidate, so a query for the 313 refund pointers of a
12,800-item partition cost 0.35 s of CPU and one for its 6,250 date pointers 1.4 s (profiled).
One difference from moto, toward DynamoDB: moto counts the size of an item the key condition
excludes toward the 1 MB page (a big one ends a page early); DynamoDB does not read such items.
``tests/unit/test_moto_canaries.py`` checks the answers are the same with and without it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models.table import Table

_partition = threading.local()
_original_query = Table.query
_original_all_items = Table.all_items


def _all_items(self: Table) -> Any:
    only = getattr(_partition, "key", None)
    if only is None or only[0] is not self:
        return _original_all_items(self)
    _, hash_key, comparison, bounds = only
    hash_set = self.items.get(hash_key)
    if hash_set is None:
        return []
    if not self.range_key_attr:
        return [hash_set]
    items = list(hash_set.values())
    if comparison:
        items = [item for item in items if item.range_key.compare(comparison, bounds)]
    return sorted(items, key=lambda item: item.range_key.cast_value)


def _query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name or hash_key is None:
        return _original_query(self, hash_key, *args, **kwargs)
    comparison = kwargs.get("range_comparison", args[0] if args else None)
    bounds = kwargs.get("range_objs", args[1] if len(args) > 1 else [])
    _partition.key = (self, hash_key, comparison, bounds)
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        _partition.key = None


def install() -> None:
    """Patch moto's Table for good (the sandbox process); idempotent."""
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]


@contextmanager
def partition_queries() -> Iterator[None]:
    """Patched for a block only, then moto's own again (the canary compares both)."""
    install()
    try:
        yield
    finally:
        Table.query = _original_query  # type: ignore[method-assign]
        Table.all_items = _original_all_items  # type: ignore[method-assign]
