"""The janitor's due index, its run checkpoint and its queue (DynamoDB ``gsi2`` and SQS).

Every payment awaiting the provider is on ``gsi2`` under ``OPEN#{shard}`` while pending and
``AUTH#{shard}`` once authorized (the two ``Schedule``s: their checks follow different offsets;
writes spread over ``OPEN_SHARDS`` partitions each by a hash of the payment key), sorted by
``{anchor}#{pk}``: the time its checks count from (``domain.due_checks``), so "whose
k-th check falls in this window" is one range query per schedule, shard and offset that reads only those
payments, however many are open. Only the payment write sets the key (``PaymentRepository.save``:
its change time plus its jitter); a check that finds nothing writes nothing; a terminal payment is
written without it and leaves the index.

Items written before the anchors kept a next-check time there (``{next_check_at}#{pk}``), or,
before the due index, ``{updated_at}#{pk}``: both read as anchors, so their schedule shifts (the
first check a quiet period after that time, then backing off from there) and nothing is lost — no
backfill; their next write gives them a real anchor. Such an item is in an ``OPEN`` partition even
when authorized, so it follows the pending schedule (more checks) until then.
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
from cardops.payments.domain.due_checks import (
    POLICY,
    DueRef,
    DueState,
    RunCheckpoint,
    Schedule,
    awaits_provider,
    schedule_of,
)
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


#: each schedule's partitions (``OPEN`` as before the schedules: the entries written then are pending's)
PARTITIONS = {Schedule.PENDING: "OPEN", Schedule.AUTHORIZED: "AUTH"}


def due_partition(schedule: Schedule, shard: int) -> str:
    return f"{PARTITIONS[schedule]}#{shard}"


def _stamp(at: datetime) -> str:
    """UTC with microseconds, as the keys written before this index (``updated_at``) also read."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def due_bound(at: datetime) -> str:
    """Every key due at or before ``at`` sorts below this (``~`` sorts after ``#``)."""
    return f"{_stamp(at)}~"


def due_sort_key(at: datetime, pk: str) -> str:
    return f"{_stamp(at)}#{pk}"


def due_entry(payment: Payment, pk: str) -> dict[str, Any]:
    """The index attributes of a payment being written: its checks count from this change.

    Empty once the provider owes nothing (a terminal payment is written without them, so it leaves
    the index).
    """
    if not awaits_provider(payment):
        return {}
    ref = DueRef(provider=payment.provider, payment_id=payment.provider_payment_id)
    anchor = POLICY.anchor(changed_at=payment.updated_at, key=ref.key)
    return {
        "gsi2pk": {"S": due_partition(schedule_of(payment), shard_of(pk))},
        "gsi2sk": {"S": due_sort_key(anchor, pk)},
    }


def _anchor(sort_key: str) -> datetime:
    return datetime.fromisoformat(sort_key.split("#", 1)[0])


class DueIndex:
    """The scheduler's reads: anchors of one shard in a range, one page at a time, keys only."""

    def oldest(self, schedule: Schedule, shard: int) -> datetime | None:
        """The shard's earliest anchor (None: the shard is empty): ranges before it hold nothing."""
        answer = aws.dynamodb().query(
            TableName=_table(),
            IndexName=DUE_INDEX,
            KeyConditionExpression="gsi2pk = :pk",
            ExpressionAttributeValues={":pk": {"S": due_partition(schedule, shard)}},
            ProjectionExpression="gsi2sk",
            Limit=1,
        )
        items = answer.get("Items", [])
        return _anchor(items[0]["gsi2sk"]["S"]) if items else None

    def page(
        self,
        schedule: Schedule,
        shard: int,
        *,
        after: datetime,
        until: datetime,
        start: dict[str, Any] | None,
        limit: int,
    ) -> tuple[list[DueRef], dict[str, Any] | None]:
        """Payments anchored in ``(after, until]`` (no key equals a bound: ``~`` sorts after ``#``)."""
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk BETWEEN :after AND :until",
            "ExpressionAttributeValues": {
                ":pk": {"S": due_partition(schedule, shard)},
                ":after": {"S": due_bound(after)},
                ":until": {"S": due_bound(until)},
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
    """The worker's one read: a payment and the anchor its checks count from (it writes nothing)."""

    def state(self, ref: DueRef) -> DueState | None:
        """The payment and its anchor; None when it is gone or no longer on the index."""
        item = (
            aws.dynamodb()
            .get_item(
                TableName=_table(),
                Key={"pk": {"S": payment_pk(ref.provider, ref.payment_id)}, "sk": {"S": "#PAYMENT"}},
                ConsistentRead=True,
                ProjectionExpression="doc, gsi2sk",
            )
            .get("Item")
        )
        if not item or "gsi2sk" not in item:
            return None
        return DueState(
            payment=Payment.model_validate_json(item["doc"]["S"]), anchor=_anchor(item["gsi2sk"]["S"])
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
        cutoff = datetime.fromisoformat(item["cutoff"]["S"])
        if "since" not in item:
            # a run of the janitor before the anchors: its position means nothing to these reads,
            # so it counts as finished and the next window starts at its cutoff (the checks it had
            # left are due again at their anchors' later offsets)
            return RunCheckpoint(
                run_id=item["run_id"]["S"],
                cutoff=cutoff,
                since=cutoff,
                finished=True,
                seq=int(item["seq"]["N"]),
            )
        return RunCheckpoint(
            run_id=item["run_id"]["S"],
            cutoff=cutoff,
            since=datetime.fromisoformat(item["since"]["S"]),
            lane=int(item["lane"]["N"]),
            offset=int(item["offset"]["N"]),
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
            "since": {"S": checkpoint.since.isoformat()},
            "lane": {"N": str(checkpoint.lane)},
            "offset": {"N": str(checkpoint.offset)},
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
