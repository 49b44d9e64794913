"""Drains the events queue into the processor, as the Lambda SQS event source does in AWS.

Batches of up to ten, partial batch failures honoured: a failed message becomes visible again
after a short delay and, after ``maxReceiveCount`` receives, moto moves it to the dead-letter queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import boto3

from cardops.sandbox.lambda_runner import FakeContext

RETRY_DELAY_SECONDS = 1


def sqs_event(messages: Sequence[Any], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "ap-northeast-1",
            }
            for m in messages
        ]
    }


class QueueWorker:
    def __init__(self, queue_url: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self._sqs = boto3.client("sqs", region_name="ap-northeast-1")
        self._arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="queue-worker", daemon=True)
        self.processed = 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)

    def drain_once(self, wait_seconds: int = 1) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.handler(
                sqs_event(messages, self._arn), FakeContext(function_name="sandbox-processor")
            )
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=RETRY_DELAY_SECONDS,
                )
            else:
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                self.processed += 1
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain_once()
            except Exception:
                self._stop.wait(0.5)
