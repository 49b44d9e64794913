"""The janitor's due index, its run checkpoint and its queue (DynamoDB ``gsi2`` and SQS).

Every payment awaiting the provider (pending or authorized) is on ``gsi2`` under
``OPEN#{shard}`` (writes spread over ``OPEN_SHARDS`` partitions by a hash of the payment key),
sorted by ``{next_check_at}#{pk}``: the time of its next check first, so "what is due now" is a
range query per shard that reads only what is due, however many payments are open. The payment
write sets the key (``PaymentRepository.save``: its change time plus the quiet period, checks back
to 0); a check that finds nothing moves it forward (``reschedule``); a terminal payment is written
without it and leaves the index.

Payments written before this index kept ``{updated_at}#{pk}`` there: they read as due at their
last change, so the first runs check them once and give each a real next check — no backfill.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cardops.kernel import aws
from cardops.kernel.aws import StoreUnavailable
from cardops.kernel.dynamodb import payment_pk
from cardops.kernel.dynamodb import table_name as _table
from cardops.payments.domain.due_checks import POLICY, DueRef, DueState, RunCheckpoint, awaits_provider
from cardops.payments.domain.payments import Payment

DUE_INDEX = "gsi2"
OPEN_SHARDS = 8
"""Due entries spread over this many index partitions, so no single one is hot (the scheduler reads
each). Eight, as before the due index: the entries written then stay in their partitions."""
CHECKPOINT_KEY = {"pk": {"S": "JANITOR#CHECKPOINT"}, "sk": {"S": "#RUN"}}
#: SQS takes at most ten messages per ``SendMessageBatch``
SQS_BATCH = 10


def shard_of(pk: str) -> int:
    return int(hashlib.sha256(pk.encode()).hexdigest(), 16) % OPEN_SHARDS


def due_partition(shard: int) -> str:
    return f"OPEN#{shard}"


def _stamp(at: datetime) -> str:
    """UTC with microseconds, as the keys written before this index (``updated_at``) also read."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def due_bound(at: datetime) -> str:
    """Every key due at or before ``at`` sorts below this (``~`` sorts after ``#``)."""
    return f"{_stamp(at)}~"


def due_sort_key(at: datetime, pk: str) -> str:
    return f"{_stamp(at)}#{pk}"


def due_entry(payment: Payment, pk: str) -> dict[str, Any]:
    """The index attributes of a payment being written: due a quiet period after this change.

    Empty once the provider owes nothing (a terminal payment is written without them, so it leaves
    the index); the check count starts over, as any change is news.
    """
    if not awaits_provider(payment):
        return {}
    ref = DueRef(provider=payment.provider, payment_id=payment.provider_payment_id)
    first = POLICY.next_check(since=payment.updated_at, checks=0, key=ref.key)
    return {
        "gsi2pk": {"S": due_partition(shard_of(pk))},
        "gsi2sk": {"S": due_sort_key(first, pk)},
    }


def _due_time(sort_key: str) -> datetime:
    return datetime.fromisoformat(sort_key.split("#", 1)[0])


class DueIndex:
    """The scheduler's reads: due payments of one shard, one page at a time, keys only."""

    def page(
        self, shard: int, *, cutoff: datetime, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[DueRef], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk < :bound",
            "ExpressionAttributeValues": {
                ":pk": {"S": due_partition(shard)},
                ":bound": {"S": due_bound(cutoff)},
            },
            "ProjectionExpression": "pk",
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = aws.dynamodb().query(**kwargs)
        refs = []
        for item in answer.get("Items", []):
            _, provider, payment_id = item["pk"]["S"].split("#", 2)
            refs.append(DueRef(provider=provider, payment_id=payment_id))
        last: dict[str, Any] | None = answer.get("LastEvaluatedKey")
        return refs, last


def _written_if(write: Callable[[], object]) -> bool:
    """A conditional write: True when it was made, False when its condition did not hold."""
    try:
        write()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


class DuePayments:
    """The worker's reads and writes: a payment's due state, and its next check after a check."""

    def state(self, ref: DueRef) -> DueState | None:
        """The payment and its place in the index; None when it is gone or no longer on the index."""
        item = (
            aws.dynamodb()
            .get_item(
                TableName=_table(),
                Key={"pk": {"S": payment_pk(ref.provider, ref.payment_id)}, "sk": {"S": "#PAYMENT"}},
                ConsistentRead=True,
                ProjectionExpression="doc, gsi2sk, janitor_checks",
            )
            .get("Item")
        )
        if not item or "gsi2sk" not in item:
            return None
        return DueState(
            payment=Payment.model_validate_json(item["doc"]["S"]),
            next_check_at=_due_time(item["gsi2sk"]["S"]),
            checks=int(item.get("janitor_checks", {}).get("N", "0")),
            index_key=item["gsi2sk"]["S"],
        )

    def reschedule(self, state: DueState, *, next_check_at: datetime) -> bool:
        """Move the payment's next check forward; False when it changed (or was checked) meanwhile.

        Conditional on the version and the due time that were read: a concurrent change wrote its
        own next check (and reset the count), and a duplicate check must not count twice.
        """
        payment = state.payment
        pk = payment_pk(payment.provider, payment.provider_payment_id)
        return _written_if(
            lambda: aws.dynamodb().update_item(
                TableName=_table(),
                Key={"pk": {"S": pk}, "sk": {"S": "#PAYMENT"}},
                UpdateExpression="SET gsi2sk = :next, janitor_checks = :checks",
                ConditionExpression="version = :version AND gsi2sk = :was",
                ExpressionAttributeValues={
                    ":next": {"S": due_sort_key(next_check_at, pk)},
                    ":checks": {"N": str(state.checks + 1)},
                    ":version": {"N": str(payment.version)},
                    ":was": {"S": state.index_key},
                },
            )
        )


class Checkpoints:
    """The scheduler's one checkpoint item: the run in progress, or the last one, finished."""

    def load(self) -> RunCheckpoint | None:
        item = (
            aws.dynamodb().get_item(TableName=_table(), Key=CHECKPOINT_KEY, ConsistentRead=True).get("Item")
        )
        if not item:
            return None
        start = item.get("start", {}).get("S")
        return RunCheckpoint(
            run_id=item["run_id"]["S"],
            cutoff=datetime.fromisoformat(item["cutoff"]["S"]),
            shard=int(item["shard"]["N"]),
            start=json.loads(start) if start else None,
            enqueued=int(item["enqueued"]["N"]),
            pages=int(item["pages"]["N"]),
            finished=bool(item["finished"]["BOOL"]),
            seq=int(item["seq"]["N"]),
        )

    def save(self, checkpoint: RunCheckpoint, *, expected_seq: int | None) -> bool:
        """Write ``checkpoint`` if the stored one is still ``expected_seq`` (None: if there is none).

        False when another invocation saved in between: it owns the run now.
        """
        item: dict[str, Any] = {
            **CHECKPOINT_KEY,
            "run_id": {"S": checkpoint.run_id},
            "cutoff": {"S": checkpoint.cutoff.isoformat()},
            "shard": {"N": str(checkpoint.shard)},
            "enqueued": {"N": str(checkpoint.enqueued)},
            "pages": {"N": str(checkpoint.pages)},
            "finished": {"BOOL": checkpoint.finished},
            "seq": {"N": str(checkpoint.seq)},
        }
        if checkpoint.start:
            item["start"] = {"S": json.dumps(checkpoint.start, sort_keys=True)}
        put: dict[str, Any] = {"TableName": _table(), "Item": item}
        if expected_seq is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "seq = :seq"
            put["ExpressionAttributeValues"] = {":seq": {"N": str(expected_seq)}}
        return _written_if(lambda: aws.dynamodb().put_item(**put))


class CheckQueue:
    """The fan-out: batches of due payments as SQS messages, ten messages per call."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, run_id: str, batches: Sequence[Sequence[DueRef]]) -> None:
        for first in range(0, len(batches), SQS_BATCH):
            entries = [
                {
                    "Id": str(n),
                    "MessageBody": json.dumps(
                        {
                            "run_id": run_id,
                            "payments": [{"provider": r.provider, "payment_id": r.payment_id} for r in batch],
                        },
                        separators=(",", ":"),
                    ),
                }
                for n, batch in enumerate(batches[first : first + SQS_BATCH])
            ]
            try:
                answer = aws.sqs().send_message_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as exc:
                raise StoreUnavailable(f"janitor queue unavailable: {exc.__class__.__name__}") from exc
            if answer.get("Failed"):
                # the checkpoint does not move past this page, so a resumed run sends it again
                raise StoreUnavailable(f"janitor queue refused {len(answer['Failed'])} messages")


def parse_message(body: str) -> tuple[str, list[DueRef]]:
    """A queue message back into its run and due payments; ``ValueError`` names what is wrong."""
    try:
        message = json.loads(body)
        run_id = str(message["run_id"])
        refs = [
            DueRef(provider=str(p["provider"]), payment_id=str(p["payment_id"])) for p in message["payments"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a janitor batch: {exc.__class__.__name__}: {exc}") from exc
    return run_id, refs
