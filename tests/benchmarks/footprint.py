"""What the cost model measures besides call counts (issue 13 item 4): the bytes each function writes
to CloudWatch Logs per invocation as deployed, and the size DynamoDB bills for each stored item.

Logs: the cardops loggers at the deployed level (``POWERTOOLS_LOG_LEVEL=INFO``, ``infra/constructs/
kernel.py``) and Powertools' EMF metric lines (metrics on, as deployed) are captured while a handler
runs; Lambda's own lines (START, END, REPORT and, with active tracing, XRAY; or their JSON records
under advanced logging controls, as the deployed system log level lets through) are rendered in the
format Lambda writes them, so their size is counted rather than guessed.

Item sizes follow DynamoDB's rules (Developer Guide, "Item sizes and formats"): attribute names and
values in UTF-8, numbers about one byte per two digits plus one, maps and lists 3 bytes plus one
per element; storage adds 100 bytes of overhead per item and per index entry.
"""

from __future__ import annotations

import contextlib
import io
import json
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


def lambda_platform_lines(
    memory_mb: int, *, json_format: bool = False, system_level: float = 20.0
) -> list[str]:
    """Lambda's own lines for one invocation of a traced function, as Lambda writes them; durations
    at a typical width. Text format: START, END, REPORT and XRAY. JSON format (advanced logging
    controls): the ``platform.start`` and ``platform.report`` records, both INFO events, so none
    at a system level of WARN ("Log-level filtering", Lambda developer guide: at INFO Lambda sends
    the start and report messages)."""
    request = str(uuid.UUID(int=0))
    trace = "1-67a1b2c3-0123456789abcdef01234567"
    if system_level > 20.0:
        return []
    if json_format:
        time_ = "2026-12-01T00:00:00.000Z"
        start = {
            "time": time_,
            "type": "platform.start",
            "record": {"requestId": request, "version": "$LATEST"},
        }
        report = {
            "time": time_,
            "type": "platform.report",
            "record": {
                "requestId": request,
                "metrics": {
                    "durationMs": 123.45,
                    "billedDurationMs": 124,
                    "memorySizeMB": memory_mb,
                    "maxMemoryUsedMB": 123,
                },
                "tracing": {
                    "spanId": "0123456789abcdef",
                    "type": "X-Amzn-Trace-Id",
                    "value": f"Root={trace};Parent=0123456789abcdef;Sampled=1",
                },
                "status": "success",
            },
        }
        return [json.dumps(start, separators=(",", ":")), json.dumps(report, separators=(",", ":"))]
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


#: one index as the table declares it: (partition key, sort key, ``ProjectionType``)
Index = tuple[str, str, str]


def table_indexes() -> list[Index]:
    """The table's indexes with their projections, as the stack and the sandbox create them."""
    from cardops import resources

    spec = resources.TABLE
    return [(pk, sk, spec.projections[name]) for name, (pk, sk) in spec.indexes.items()]


def index_entry(
    item: dict[str, Any], index: Index, table_keys: tuple[str, str] = ("pk", "sk")
) -> dict[str, Any] | None:
    """What an index stores of ``item`` (None when the item is not on it: a sparse index): the whole
    item (``ALL``) or its table and index keys (``KEYS_ONLY``)."""
    pk, sk, projection = index
    if pk not in item:
        return None
    if projection == "ALL":
        return item
    if projection == "KEYS_ONLY":
        return {name: item[name] for name in (*table_keys, pk, sk) if name in item}
    raise ValueError(f"no footprint for the {projection} projection")


def index_write_units(
    before: dict[str, Any] | None, after: dict[str, Any] | None, indexes: list[Index]
) -> float:
    """Write units the indexes bill for one change of an item, at the size each index stores (its
    projection): an entry written or rewritten at its new size, a moved entry deleted and put, a
    dropped one deleted, an entry the change leaves as it was (a keys-only entry of an item whose
    other attributes changed) not written (DynamoDB Developer Guide, "Provisioned throughput
    considerations for GSIs")."""
    units = 0
    for index in indexes:
        old = index_entry(before, index) if before else None
        new = index_entry(after, index) if after else None
        if old == new:
            continue
        pk, sk, _ = index
        if old is not None and (new is None or (old[pk], old.get(sk)) != (new[pk], new.get(sk))):
            units += _units(item_size(old))
        if new is not None:
            units += _units(item_size(new))
    return float(units)
