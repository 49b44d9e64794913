"""What the cost model measures besides call counts (issue 13 item 4): the bytes each function writes
to CloudWatch Logs per invocation as deployed, and the size DynamoDB bills for each stored item.

Logs: the cardops loggers at the deployed level (``POWERTOOLS_LOG_LEVEL=INFO``, ``infra/constructs/
kernel.py``) and Powertools' EMF metric lines (metrics on, as deployed) are captured while a handler
runs; Lambda's own lines (START, END, REPORT and, with active tracing, XRAY) are rendered in the
format Lambda writes them, so their size is counted rather than guessed.

Item sizes follow DynamoDB's rules (Developer Guide, "Item sizes and formats"): attribute names and
values in UTF-8, numbers about one byte per two digits plus one, maps and lists 3 bytes plus one
per element; storage adds 100 bytes of overhead per item and per index entry.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: storage overhead DynamoDB bills per item (and per index entry), bytes
ITEM_OVERHEAD_BYTES = 100
#: what CloudWatch Logs counts per event on top of its message (PutLogEvents' batch-size rule)
LOG_EVENT_OVERHEAD_BYTES = 26


def lambda_platform_lines(memory_mb: int) -> list[str]:
    """Lambda's own lines for one invocation of a traced function (text log format), as Lambda
    writes them; durations at a typical width."""
    request = str(uuid.UUID(int=0))
    trace = "1-67a1b2c3-0123456789abcdef01234567"
    return [
        f"START RequestId: {request} Version: $LATEST",
        f"END RequestId: {request}",
        f"REPORT RequestId: {request}\tDuration: 123.45 ms\tBilled Duration: 124 ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: 123 MB\t",
        f"XRAY TraceId: {trace}\tSegmentId: 0123456789abcdef\tSampled: true\t",
    ]


@dataclass
class Logged:
    """Bytes and events one block wrote (messages only; ``billed_bytes`` adds the per-event part),
    and the CPU time it took (this process: the handler and, in-process, moto's side of its calls,
    so an upper bound of the function's own)."""

    bytes: int = 0
    events: int = 0
    cpu_seconds: float = 0.0

    def add(self, text: str) -> None:
        lines = [line for line in text.splitlines() if line.strip()]
        self.bytes += sum(len(line.encode()) for line in lines)
        self.events += len(lines)

    @property
    def billed_bytes(self) -> int:
        return self.bytes + self.events * LOG_EVENT_OVERHEAD_BYTES


@contextlib.contextmanager
def logged() -> Iterator[Logged]:
    """What cardops' loggers and Powertools' metrics write while the block runs, at the deployed
    level: every cardops logger at INFO into one buffer, metrics flushed (EMF) to stdout."""
    buffer = io.StringIO()
    loggers = [
        candidate
        for name, candidate in logging.root.manager.loggerDict.items()
        if name.startswith("cardops") and isinstance(candidate, logging.Logger)
    ]
    saved: list[tuple[logging.Logger, int, list[tuple[logging.StreamHandler[Any], Any]]]] = []
    for each in loggers:
        streams = [
            (handler, handler.setStream(buffer))
            for handler in each.handlers
            if isinstance(handler, logging.StreamHandler)
        ]
        saved.append((each, each.level, streams))
        each.setLevel(logging.INFO)
    disabled = os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
    result = Logged()
    cpu = time.process_time()
    try:
        with contextlib.redirect_stdout(buffer):
            yield result
    finally:
        result.cpu_seconds = time.process_time() - cpu
        if disabled is not None:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = disabled
        for each, level, streams in saved:
            each.setLevel(level)
            for handler, stream in streams:
                handler.setStream(stream)
        result.add(buffer.getvalue())


def attribute_size(value: Any) -> int:
    """Bytes DynamoDB counts for one attribute value (boto3's deserialized form)."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3's Binary
        return len(value.value)
    if isinstance(value, int | float | Decimal):
        digits = len(str(abs(Decimal(value))).replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + attribute_size(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(attribute_size(v) + 1 for v in value)
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills its writes (names plus values; no storage overhead)."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def _units(size: int) -> int:
    return max(1, -(-size // 1024))


def index_write_units(
    before: dict[str, Any] | None, after: dict[str, Any] | None, index_keys: list[str]
) -> float:
    """Write units the indexes bill for one change of an item (projection ALL: the whole item):
    an entry written or rewritten at the new size, a moved entry deleted and put, a dropped one
    deleted (DynamoDB Developer Guide, "Provisioned throughput considerations for GSIs")."""
    units = 0
    for key in index_keys:
        old = before.get(key) if before else None
        new = after.get(key) if after else None
        if old is not None and before is not None:
            sort = key.replace("pk", "sk")
            moved = new is None or (old, before.get(sort)) != (new, after.get(sort) if after else None)
            if moved:
                units += _units(item_size(before))
        if new is not None and after is not None:
            units += _units(item_size(after))
    return float(units)
