"""Speed fixes for moto in the sandbox: the answers are moto's own, computed without its slow paths.

Profiled on the 20k-line feed sync (``tests/benchmarks/bench_feed_sync.py``, CPU per request with
``time.thread_time``; the moto server, the sync and the change feed share one process and its GIL):

- **GetRecords.** moto builds a stream record once, already in the wire's shape, then answers
  ``GetRecords`` through its generic, model-driven response serializer, which walks every attribute
  of every image against the botocore shape: 15 s of the sync's 47 s of CPU went there (≈ 27 ms a
  call, ≈ 0.4 ms a record), and the bare BatchWriteItem loop ran at a third of its speed while the
  change feed read its writes. Here the records are dumped as JSON directly (timestamps with moto's
  own epoch conversion, binary values base64 as on the wire). In AWS the change feed runs on its own
  Lambda and never slows a writer; in one process it does, so this is the sandbox's cost, not the code's.
- **Query, BatchGetItem, BatchWriteItem.** The same serializer answers DynamoDB's bulk calls: a page
  of 6,250 date pointers cost moto 0.5 s of CPU to serialize, about as much as finding them (8.5 s
  of the 100k sync's refund linking), and 8,500 BatchWriteItem answers 2 s. Their answers (item
  maps, counts, keys, capacity, unprocessed requests) are dumped as JSON too; errors and every
  other operation still go through moto's serializer.
- **Backend lookup.** Each request makes moto's server list its own package folder (``listdir`` and
  an ``isdir`` per service, ~0.4 ms) under one global lock to find the backend for a host name; the
  folder never changes while the process runs, so the list is taken once.

``tests/unit/test_moto_canaries.py`` checks GetRecords, Query and BatchGetItem answer the same with
and without this (every attribute type, insert/modify/remove, pages, projections, counts, capacity,
an error) and that the patched internals are still there.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from moto import backends
from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult
from moto.core.serialize import TimestampSerializer
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_INSTALL_LOCK = threading.Lock()
_original_get_records = DynamoDBStreamsHandler.get_records
_original_dynamodb_serialized = DynamoHandler.serialized
_original_list_of_moto_modules = backends.list_of_moto_modules
#: the JSON 1.0 protocol's content type, as moto's serializer sets it for DynamoDB Streams
CONTENT_TYPE = "application/x-amz-json-1.0"


def _wire(value: object) -> object:
    """What JSON cannot hold, as moto's serializer writes it: epoch seconds, base64."""
    if isinstance(value, datetime):
        return TimestampSerializer._timestamp_unixtimestamp(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} in a stream record")


def _get_records(self: DynamoDBStreamsHandler) -> tuple[str, dict[str, str]]:
    limit = self._get_param("Limit")
    result = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
    return json.dumps(result, default=_wire), {"Content-Type": CONTENT_TYPE}


#: DynamoDB operations whose answers are attribute maps, counts and keys only
FAST_DYNAMODB_ANSWERS = frozenset({"Query", "BatchGetItem", "BatchWriteItem"})


def _dynamodb_serialized(self: DynamoHandler, action_result: ActionResult) -> TYPE_RESPONSE:
    answered = type(action_result) in (ActionResult, DynamoResult)  # not paginated, not an error
    if (
        answered
        and not isinstance(action_result.result, Exception)
        and self._get_action() in FAST_DYNAMODB_ANSWERS
    ):
        headers: dict[str, Any] = {"Content-Type": CONTENT_TYPE, **self.response_headers}
        return 200, headers, json.dumps(action_result.result, default=_wire)
    return _original_dynamodb_serialized(self, action_result)


@functools.cache
def _list_of_moto_modules() -> tuple[str, ...]:
    """moto's package folders, listed once (they do not change while the process runs)."""
    return tuple(_original_list_of_moto_modules())


def install() -> None:
    """Idempotent: every moto server and mock in this process answers the faster way."""
    with _INSTALL_LOCK:
        DynamoDBStreamsHandler.get_records = _get_records  # type: ignore[method-assign,assignment]
        DynamoHandler.serialized = _dynamodb_serialized  # type: ignore[method-assign,assignment]
        backends.list_of_moto_modules = _list_of_moto_modules


def uninstall() -> None:
    with _INSTALL_LOCK:
        DynamoDBStreamsHandler.get_records = _original_get_records  # type: ignore[method-assign]
        DynamoHandler.serialized = _original_dynamodb_serialized  # type: ignore[method-assign]
        backends.list_of_moto_modules = _original_list_of_moto_modules


def is_installed() -> bool:
    return backends.list_of_moto_modules is _list_of_moto_modules


@contextmanager
def installed() -> Iterator[None]:
    """Installed for a block, then as it was (a test in a process that provisioned keeps it)."""
    was = is_installed()
    install()
    try:
        yield
    finally:
        if not was:
            uninstall()


@contextmanager
def moto_as_shipped() -> Iterator[None]:
    """moto's own code for a block (the canary compares both), then as it was."""
    was = is_installed()
    uninstall()
    try:
        yield
    finally:
        if was:
            install()
