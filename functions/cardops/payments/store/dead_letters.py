"""The events queue's dead-letter queue: browse the parked messages, move one back.

SQS has no "peek": browsing receives the messages, holding them invisible for a short while, and
lets them go again (visibility 0) when done, so a listing neither loses nor re-orders anything.
Moving a message sends its body to the events queue first and deletes it from the dead-letter
queue only after that send succeeded, so a failure in between leaves a duplicate (processing is
idempotent), never a loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cardops.kernel import aws
from cardops.kernel.dynamodb import StoreUnavailable

#: how many parked messages one listing reads at most
MAX_BROWSE = 200
#: how long a browsed message stays hidden if its release fails (seconds)
HOLD_SECONDS = 30


@dataclass(frozen=True)
class ParkedMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at: datetime | None
    attributes: dict[str, Any]


def _parked(message: dict[str, Any]) -> ParkedMessage:
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    return ParkedMessage(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, tz=UTC) if sent else None,
        attributes={
            key: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
            for key, value in message.get("MessageAttributes", {}).items()
        },
    )


class DeadLetterQueue:
    def __init__(self, url: str) -> None:
        if not url:
            raise StoreUnavailable("no dead-letter queue is configured (DEAD_LETTER_QUEUE_URL)")
        self.url = url
        self._moved: set[str] = set()

    @contextmanager
    def browse(self, limit: int = MAX_BROWSE) -> Iterator[list[ParkedMessage]]:
        """The parked messages, held while the block runs and released after it (unless moved)."""
        held: dict[str, ParkedMessage] = {}
        self._moved = set()
        try:
            while len(held) < limit:
                batch = self._call(
                    "receive_message",
                    QueueUrl=self.url,
                    MaxNumberOfMessages=min(10, limit - len(held)),
                    VisibilityTimeout=HOLD_SECONDS,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                fresh = [_parked(m) for m in batch if m["MessageId"] not in held]
                if not fresh:
                    break
                held.update((m.message_id, m) for m in fresh)
            yield sorted(held.values(), key=lambda m: m.sent_at or datetime.min.replace(tzinfo=UTC))
        finally:
            for message in held.values():
                if message.message_id not in self._moved:
                    with suppress(ClientError, BotoCoreError):
                        aws.sqs().change_message_visibility(
                            QueueUrl=self.url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0
                        )

    def move(self, message: ParkedMessage, *, to_url: str) -> None:
        """Send to ``to_url``, then delete here: only after the send succeeded (call within ``browse``)."""
        send: dict[str, Any] = {"QueueUrl": to_url, "MessageBody": message.body}
        if message.attributes:
            send["MessageAttributes"] = message.attributes
        self._call("send_message", **send)
        self._call("delete_message", QueueUrl=self.url, ReceiptHandle=message.receipt_handle)
        self._moved.add(message.message_id)

    @staticmethod
    def _call(operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(aws.sqs(), operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"queue unavailable: {exc.__class__.__name__}") from exc
