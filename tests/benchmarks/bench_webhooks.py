"""Webhook benchmarks (issue 2): AWS calls per operation, accept-path cost, handler import time."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.client import BaseClient

from cardops.cli.samples import render_file
from tests.benchmarks.timing import import_seconds, per_call_seconds

STRIPE_SAMPLE = (
    Path(__file__).resolve().parents[2]
    / "events/webhooks/stripe/payment_intent.amount_capturable_updated.json"
)
STRIPE_BODY = render_file(STRIPE_SAMPLE, now=datetime.now(UTC))
STRIPE_EVENT_ID = json.loads(STRIPE_BODY)["id"]


@contextmanager
def counting_aws_calls() -> Iterator[Counter[str]]:
    """Counts every AWS API call made through botocore, by operation."""
    counts: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counted(self: BaseClient, operation: str, params: Any) -> Any:
        counts[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return original(self, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", counted):
        yield counts


def aws_calls() -> dict[str, float]:
    """Deterministic counts on moto: accept (new, duplicate) and process one event."""
    from moto import mock_aws

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "b", "AWS_SECRET_ACCESS_KEY": "b", "AWS_DEFAULT_REGION": "ap-northeast-1"}
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        from aws_lambda_powertools.utilities import parameters

        from cardops import resources
        from cardops.adapters import aws
        from cardops.config import reset_settings
        from cardops.sandbox.provision import provision
        from tests.helpers import call, stripe_headers

        aws.reset_clients()
        parameters.clear_caches()
        made = provision(dict(resources.SANDBOX_SECRETS), prefix="bench")
        os.environ.update(made.environment(payjp_api_base="http://127.0.0.1:9"))
        reset_settings()
        from cardops.handlers import processor, webhook

        call(
            webhook.handler, "POST", "/webhooks/stripe", b"{}", {}
        )  # warm: secret cached as in a warm container
        with counting_aws_calls() as accept_new:
            status, _ = call(
                webhook.handler, "POST", "/webhooks/stripe", STRIPE_BODY, stripe_headers(STRIPE_BODY)
            )
        assert status == 200
        with counting_aws_calls() as accept_duplicate:
            call(webhook.handler, "POST", "/webhooks/stripe", STRIPE_BODY, stripe_headers(STRIPE_BODY))
        from cardops.sandbox.lambda_runner import FakeContext

        record = {
            "messageId": "m",
            "receiptHandle": "r",
            "body": json.dumps(
                {"provider": "stripe", "event_id": STRIPE_EVENT_ID, "body": STRIPE_BODY.decode()}
            ),
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:ap-northeast-1:1:q",
            "awsRegion": "ap-northeast-1",
        }
        with counting_aws_calls() as process_new:
            result = processor.handler({"Records": [record]}, FakeContext("processor"))
        assert result == {"batchItemFailures": []}, result
        with counting_aws_calls() as process_replay:
            processor.handler({"Records": [record]}, FakeContext("processor"))

    def kind(counts: Counter[str], wanted: str) -> float:
        return float(sum(n for op, n in counts.items() if classify(op) == wanted))

    return {
        "dynamodb_writes_per_accepted_webhook": kind(accept_new, "dynamodb_write"),
        "sqs_requests_per_accepted_webhook": kind(accept_new, "sqs"),
        "dynamodb_reads_per_processed_event": kind(process_new, "dynamodb_read"),
        "dynamodb_transact_writes_per_processed_event": kind(process_new, "dynamodb_transact"),
        "dynamodb_writes_per_processed_event": kind(process_new, "dynamodb_write"),
        "other_calls_per_processed_event": kind(process_new, "other"),
        "aws_calls_per_accepted_webhook": sum(accept_new.values()),
        "aws_calls_per_duplicate_webhook": sum(accept_duplicate.values()),
        "aws_calls_per_processed_event": sum(process_new.values()),
        "aws_calls_per_replayed_event": sum(process_replay.values()),
    }


def classify(operation: str) -> str:
    service, _, name = operation.partition(":")
    if service == "dynamodb":
        if name == "TransactWriteItems":
            return "dynamodb_transact"
        return "dynamodb_read" if name in ("GetItem", "Query", "BatchGetItem", "Scan") else "dynamodb_write"
    return "sqs" if service == "sqs" else "other"


class _MemoryEvents:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def put_if_absent(self, *, provider: str, event_id: str, **_: Any) -> tuple[bool, bool]:
        key = (provider, event_id)
        new = key not in self.seen
        self.seen.add(key)
        return new, not new

    def mark_enqueued(self, **_: Any) -> None:
        return None


class _MemoryQueue:
    def send(self, message: Any, *, dedupe_id: str) -> None:
        json.dumps(message)


def accept_cost() -> dict[str, float]:
    """The accept path without I/O (verify, parse id, dedupe, build the message) vs HMAC + JSON parse."""
    from cardops import resources
    from cardops.adapters.secrets import WebhookSecrets
    from cardops.services import webhook_intake

    secret = resources.SANDBOX_SECRETS["stripe_webhook_secret"]
    secrets = WebhookSecrets.model_validate(resources.SANDBOX_SECRETS)
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + STRIPE_BODY, hashlib.sha256).hexdigest()
    headers = {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}
    events, queue = _MemoryEvents(), _MemoryQueue()
    now = datetime.now(UTC)

    def accept() -> None:
        events.seen.clear()
        webhook_intake.accept(
            "stripe", STRIPE_BODY, headers.get, secrets=lambda: secrets, raw_events=events, queue=queue,
            now=now, max_bytes=262144, stripe_tolerance=300, ttl_days=90,
        )  # fmt: skip

    def floor() -> None:
        hmac.compare_digest(
            hmac.new(secret.encode(), f"{timestamp}.".encode() + STRIPE_BODY, hashlib.sha256).hexdigest(),
            signature,
        )
        json.loads(STRIPE_BODY)

    floor_s = per_call_seconds(floor, number=5000)
    accept_s = per_call_seconds(accept, number=5000)
    return {
        "accept_path_us": accept_s * 1e6,
        "hmac_json_floor_us": floor_s * 1e6,
        "accept_path_ratio_to_floor": accept_s / floor_s,
    }


def import_cost() -> dict[str, float]:
    handler = import_seconds("cardops.handlers.webhook")
    powertools = import_seconds("aws_lambda_powertools.event_handler")
    return {
        "webhook_handler_import_ms": handler * 1000,
        "powertools_import_ms": powertools * 1000,
        "webhook_import_ratio_to_powertools": handler / powertools,
    }


def run() -> dict[str, float]:
    return {**aws_calls(), **accept_cost(), **import_cost()}
