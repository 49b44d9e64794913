"""A table's DynamoDB stream in moto that keeps DynamoDB Streams' promises (sandbox and tests only).

DynamoDB Streams delivers exactly the writes that happened, in order: one record per item a
successful write or transaction changed, none for a cancelled transaction. moto 5.2 breaks this
when a transaction is cancelled (a condition fails — a lost version race, a duplicate entry):
it rolls back by putting back a deep copy of the whole table taken when the transaction started,
stream included. A reader's shard iterator keeps the old stream object, so it is then served a
record of the cancelled transaction (a payment that was never written) and never sees a later
write again; a reader that asks for a fresh iterator sees a sequence number reused.

Here the stream is one object for the table's life: the copy a transaction takes shares it (a
stream is not table state a rollback may restore), and a cancelled transaction removes the records
it appended. Stream reads are serialized with DynamoDB's own requests (``atomic_dynamodb.LOCK``),
so a reader never sees a transaction half-applied, and a shard iterator is forgotten once used (as
AWS expires them), so a long-running sandbox does not keep every iterator it ever handed out.

Every attribute replaced here is listed in ``PATCHED`` and checked by a canary test.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from cardops.sandbox import atomic_dynamodb

_INSTALL_LOCK = threading.Lock()
#: (owner, attribute) → what it was: called by the replacements, put back by ``uninstall``
_ORIGINALS: dict[tuple[Any, str], Any] = {}
#: the replaced attributes the owner itself defined (the others were inherited: deleted on uninstall)
_OWN: set[tuple[Any, str]] = set()


def _shared(self: StreamShard, memo: dict[int, Any]) -> StreamShard:
    """A table's copy shares its stream: the rollback restores items, never the stream."""
    return self


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    streams = {
        name: (table.stream_shard, len(table.stream_shard.items))
        for name, table in self.tables.items()
        if table.stream_shard is not None
    }
    try:
        _ORIGINALS[(DynamoDBBackend, "transact_write_items")](self, transact_items)
    except Exception:
        for name, (shard, length) in streams.items():
            table = self.tables.get(name)
            del shard.items[length:]  # the cancelled transaction's records never happened
            if table is not None:
                table.stream_shard = shard
                shard.table = table
        raise


def _get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    records: dict[str, Any] = _ORIGINALS[(DynamoDBStreamsBackend, "get_records")](self, iterator_arn, limit)
    self.shard_iterators.pop(iterator_arn, None)
    return records


def _call_action(self: DynamoDBStreamsHandler) -> Any:
    with atomic_dynamodb.LOCK:
        return _ORIGINALS[(DynamoDBStreamsHandler, "call_action")](self)


#: (owner, attribute) → replacement; the canary test checks each owner still has the attribute
PATCHED: dict[tuple[Any, str], Any] = {
    (StreamShard, "__deepcopy__"): _shared,
    (DynamoDBBackend, "transact_write_items"): _transact_write_items,
    (DynamoDBStreamsBackend, "get_records"): _get_records,
    (DynamoDBStreamsHandler, "call_action"): _call_action,
}


def install() -> None:
    """Idempotent: every table stream in this process behaves as described above."""
    with _INSTALL_LOCK:
        for (owner, name), replacement in PATCHED.items():
            if (owner, name) not in _ORIGINALS:
                _ORIGINALS[(owner, name)] = getattr(owner, name, None)
                if name in owner.__dict__:
                    _OWN.add((owner, name))
                setattr(owner, name, replacement)


def uninstall() -> None:
    with _INSTALL_LOCK:
        for (owner, name), original in _ORIGINALS.items():
            if (owner, name) in _OWN:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        _ORIGINALS.clear()
        _OWN.clear()
