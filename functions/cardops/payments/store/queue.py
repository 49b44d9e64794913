"""SQS: the hand-off from webhook intake to asynchronous processing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cardops.kernel import aws
from cardops.kernel.dynamodb import StoreUnavailable, dumps


class SqsQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, message: Mapping[str, Any], *, dedupe_id: str) -> None:
        try:
            aws.sqs().send_message(
                QueueUrl=self.queue_url,
                MessageBody=dumps(message),
                MessageAttributes={"dedupe_id": {"DataType": "String", "StringValue": dedupe_id[:256]}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"queue unavailable: {exc.__class__.__name__}") from exc
