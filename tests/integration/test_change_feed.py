"""The durable change feed (issue 11 item 1): the table's stream → the payment listeners.

Run as AWS runs it (``cardops.sandbox.stream_poller``, the mapping of ``resources.CHANGE_FEED``):
only payment items reach the ``changes`` function, a failing change is retried a bounded number
of times and then set aside on the alarmed failure queue, and the listeners are idempotent. The
crash matrix kills the processor and the feed right after each of their writes, redelivers as SQS
and the stream do, and shows that nothing is lost and nothing doubled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.client import BaseClient

from cardops import resources
from cardops.kernel import aws
from cardops.ledger.domain.ledger import Channel
from cardops.ledger.store import LedgerStore
from cardops.payments.store.payments import PaymentRepository
from cardops.sandbox.lambda_runner import FakeContext
from tests.conftest import load_event, sample
from tests.helpers import change_feed, drain_changes, sqs_event

PAYMENT_ID = "pi_3QzAbC2eZvKYlo2C0xyz9876"
STORE = "store_042"
AMOUNT = 12_000
STRIPE_FEE = 564  # 4.7 % of 12,000 (the Stripe channel's plan)


def _stripe_message(name: str) -> dict[str, Any]:
    """The queue message of a Stripe sample event, stored first as the webhook function stores it."""
    from datetime import UTC, datetime

    from cardops.payments.store.payments import RawEventStore

    body = sample(f"webhooks/stripe/{name}.json")
    event_id = json.loads(body)["id"]
    RawEventStore().put_if_absent(
        provider="stripe",
        event_id=event_id,
        body=body.encode(),
        content_type="application/json",
        received_at=datetime.now(UTC),
        ttl_days=30,
    )
    return {"provider": "stripe", "event_id": event_id, "body": body}


AUTHORIZED = "payment_intent.amount_capturable_updated"
CAPTURED = "payment_intent.succeeded"


def _ledger() -> Any:
    return LedgerStore().load(STORE, Channel.STRIPE, "JPY")


def _failure_messages(provisioned: Any) -> list[dict[str, Any]]:
    answer = aws.sqs().receive_message(
        QueueUrl=provisioned.changes_failure_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def _process(message: dict[str, Any], message_id: str = "m1") -> dict[str, Any]:
    from cardops.handlers.processor import handler

    try:
        result: dict[str, Any] = handler(sqs_event(message, message_id), FakeContext("processor"))
    except BatchProcessingError:
        return {"batchItemFailures": [{"itemIdentifier": message_id}]}
    return result


def test_the_sample_stream_event_posts_the_sale_and_fee_once(provisioned: Any) -> None:
    from cardops.handlers.changes import handler

    event = load_event("changes/stream_event.json")
    for _ in range(2):  # delivered twice (a retried batch): posted once
        assert handler(event, FakeContext("changes")) == {"batchItemFailures": []}
    ledger = _ledger()
    assert sorted(e.kind.value for e in ledger.ledger.entries) == ["fee", "sale"]
    assert ledger.stored_balance == ledger.ledger.balance == AMOUNT - STRIPE_FEE


def test_only_payment_changes_reach_the_function(provisioned: Any) -> None:
    feed = change_feed()
    assert _process(_stripe_message(AUTHORIZED)) == {"batchItemFailures": []}
    filtered = feed.filtered
    # the stored event, the payment and its history entry (one transaction), the event's outcome
    assert drain_changes() == 1
    assert feed.filtered - filtered == 3
    assert feed.invocations == 1


def test_the_feed_reads_a_thousand_records_a_call_and_delivers_them_a_batch_at_a_time(
    provisioned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk write (a feed sync's lines) costs the sandbox's feed one GetRecords per 1,000 records,
    not two requests per 100; the batches are what they were: matches among 100 records each."""
    from cardops.sandbox import stream_poller
    from tests.helpers import counting_aws_calls

    feed = change_feed()
    feed.drain()
    batches: list[list[str]] = []

    def record(event: dict[str, Any]) -> None:
        batches.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]])

    monkeypatch.setattr(feed, "_handler", record)
    table = provisioned.outputs()["TableName"]
    items = [{"pk": {"S": f"P{n:03d}"}, "sk": {"S": "#PAYMENT" if n % 5 else "LINE#x"}} for n in range(250)]
    for first in range(0, len(items), 25):
        aws.dynamodb().batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": i}} for i in items[first : first + 25]]}
        )
    with counting_aws_calls() as calls:
        assert feed.drain() == 200
    assert calls["dynamodbstreams:GetRecords"] == 2  # 250 records, then none
    assert stream_poller.READ_LIMIT == 1000
    assert [len(batch) for batch in batches] == [80, 80, 40]
    assert [pk for batch in batches for pk in batch] == [f"P{n:03d}" for n in range(250) if n % 5]
    aws.dynamodb().batch_write_item(
        RequestItems={
            table: [{"PutRequest": {"Item": {"pk": {"S": "Q"}, "sk": {"S": f"LINE#{n}"}}}} for n in range(25)]
        }
    )
    with counting_aws_calls() as calls:
        assert feed.drain() == 0
    assert calls["dynamodbstreams:GetRecords"] == 1  # all there was, and no function ran: done


def test_the_feed_reads_the_records_lambda_would_get_from_botocore(
    provisioned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed leaves GetRecords' JSON as it is (``RawRecordsParsers``): the records it hands the
    function are those botocore's parsed answer gives, every attribute type and event included."""
    import boto3
    from botocore.config import Config
    from botocore.parsers import JSONParser

    from cardops.sandbox.stream_poller import lambda_record

    feed = change_feed()
    feed.drain()
    table = provisioned.outputs()["TableName"]
    key = {"pk": {"S": "PAY#raw"}, "sk": {"S": "#PAYMENT"}}
    every_type = {
        "n": {"N": "-12.50"},
        "b": {"B": b"\x00\xffbinary"},
        "ss": {"SS": ["a", "b"]},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "l": {"L": [{"S": "x"}, {"B": b"\x03"}, {"NULL": True}]},
        "m": {"M": {"k": {"BOOL": False}, "inner": {"M": {"b": {"B": b"\x04"}}}}},
    }
    aws.dynamodb().put_item(TableName=table, Item={**key, **every_type})
    aws.dynamodb().put_item(TableName=table, Item={**key, "n": {"N": "1"}})
    aws.dynamodb().delete_item(TableName=table, Key=key)
    parsed = boto3.client(
        "dynamodbstreams", region_name="ap-northeast-1", config=Config(account_id_endpoint_mode="disabled")
    ).get_records(ShardIterator=feed._iterator(), Limit=1000)["Records"]
    shapes: list[str] = []
    original = JSONParser.parse

    def parse(self: JSONParser, response: Any, shape: Any) -> Any:
        shapes.append(shape.name if shape is not None else "")
        return original(self, response, shape)

    monkeypatch.setattr(JSONParser, "parse", parse)
    raw = feed._read()
    assert "GetRecordsOutput" not in shapes and "GetShardIteratorOutput" in shapes
    assert [r["eventName"] for r in raw] == ["INSERT", "MODIFY", "REMOVE"]
    assert raw == [lambda_record(r, feed.stream_arn) for r in parsed]
    assert raw[0]["dynamodb"]["NewImage"]["b"] == {"B": "AP9iaW5hcnk="}
    assert isinstance(raw[0]["dynamodb"]["ApproximateCreationDateTime"], int)


def test_a_change_whose_listener_keeps_failing_is_set_aside_after_bounded_retries(
    provisioned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardops.payments import wiring as listeners

    calls: list[str] = []
    real = listeners.ledger_listener
    broken_now = [True]

    def broken(change: Any) -> None:
        if not broken_now[0]:
            return real(change)
        calls.append(change.key)
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(listeners, "ledger_listener", broken)
    _process(_stripe_message(AUTHORIZED))
    feed = change_feed()
    assert drain_changes() == 0
    assert len(calls) == 1 + resources.CHANGE_FEED.retry_attempts  # bounded, not until it expires
    [failure] = _failure_messages(provisioned)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert failure["DDBStreamBatchInfo"]["streamArn"] == provisioned.table_stream_arn
    assert feed.discarded == 1
    # the other listeners of that change ran all the same, and the feed goes on with later changes
    executions = aws.stepfunctions().list_executions(
        stateMachineArn=provisioned.state_machine_arns["CaptureDeadline"]
    )["executions"]
    assert len(executions) == 1
    broken_now[0] = False  # repaired: the next change goes through
    _process(_stripe_message(CAPTURED), "m2")
    assert drain_changes() == 1
    assert _ledger().ledger.balance == AMOUNT - STRIPE_FEE


def test_one_failing_change_in_a_batch_does_not_hold_back_or_double_the_others(
    provisioned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardops.ledger import wiring as ledger_wiring
    from cardops.payments import wiring as listeners
    from tests.integration.ledger.conftest import capture_payment

    real = ledger_wiring.ledger_listener

    def fails_on_b(change: Any) -> None:
        if change.new.provider_payment_id == "pay_b":
            raise RuntimeError("poisoned")
        real(change)

    monkeypatch.setattr(listeners, "ledger_listener", fails_on_b)
    for payment_id in ("pay_a", "pay_b", "pay_c"):
        capture_payment(payment_id=payment_id, store_id="store-batch", post_ledger=False)
    assert drain_changes() == 2
    entries = LedgerStore().load("store-batch", Channel.STANDARD).ledger.entries
    assert len(entries) == 4  # pay_a and pay_c: a sale and a fee each, none doubled by the retries
    [failure] = _failure_messages(provisioned)
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1


# -- crash injection ---------------------------------------------------------------------------

#: the calls that change something, by the function making them
WRITE_OPERATIONS = frozenset(
    {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:BatchWriteItem",
        "stepfunctions:StartExecution",
        "stepfunctions:StopExecution",
        "events:PutEvents",
        "sqs:SendMessage",
    }
)
#: the writes of an authorization then a capture, processed and fed, in order (a clean run)
WRITES = (
    "processor dynamodb:TransactWriteItems",  # authorized: the payment and its history entry
    "processor dynamodb:UpdateItem",  # the stored event's outcome
    "changes stepfunctions:StartExecution",  # the capture-deadline workflow
    "processor dynamodb:TransactWriteItems",  # captured
    "processor dynamodb:UpdateItem",
    "changes dynamodb:TransactWriteItems",  # the ledger's sale and fee (and the running balance)
    "changes stepfunctions:StopExecution",  # nothing left to wait for
)


class Killed(BaseException):
    """The function's process dies: nothing of it catches this (not an ``Exception``)."""


@contextmanager
def killed_after_write(kill_after: int | None) -> Iterator[list[str]]:
    """Record the processor's and the feed's writes; die right after the ``kill_after``-th returned."""
    seen: list[str] = []
    original = BaseClient._make_api_call

    def call(self: BaseClient, operation: str, params: Any) -> Any:
        answer = original(self, operation, params)
        name = f"{self.meta.service_model.service_name}:{operation}"
        identity = aws.current_identity()
        if name in WRITE_OPERATIONS and identity in ("processor", "changes"):
            seen.append(f"{identity} {name}")
            if len(seen) == kill_after:
                raise Killed(f"killed after write {kill_after}: {seen[-1]}")
        return answer

    BaseClient._make_api_call = call  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _delivered_until_processed(message: dict[str, Any], message_id: str) -> None:
    """SQS redelivers a message until the processor acknowledges it (a kill fails the invocation)."""
    for _ in range(3):
        try:
            if _process(message, message_id) == {"batchItemFailures": []}:
                return
        except Killed:
            continue
    raise AssertionError(f"message {message_id} never processed")


def _run_flow(provisioned: Any) -> None:
    from tests.integration.deadline.conftest import execution_arn, waiting_at

    _delivered_until_processed(_stripe_message(AUTHORIZED), "m-auth")
    drain_changes()
    arn = execution_arn(provisioned, PAYMENT_ID).replace("capture-payjp-", "capture-stripe-")
    waiting_at(arn, 1)
    _delivered_until_processed(_stripe_message(CAPTURED), "m-capt")
    drain_changes()


def _assert_nothing_lost_nothing_doubled(provisioned: Any) -> None:
    found = PaymentRepository().get_with_history("stripe", PAYMENT_ID)
    assert found is not None
    payment, history = found
    assert payment.status.value == "captured" and payment.version == 2 and len(history) == 2
    ledger = _ledger()
    assert sorted(e.kind.value for e in ledger.ledger.entries) == ["fee", "sale"]
    assert ledger.stored_balance == ledger.ledger.balance == AMOUNT - STRIPE_FEE
    from tests.integration.deadline.conftest import wait_for_execution

    executions = aws.stepfunctions().list_executions(
        stateMachineArn=provisioned.state_machine_arns["CaptureDeadline"]
    )["executions"]
    assert len(executions) == 1  # started once
    assert wait_for_execution(executions[0]["executionArn"])["status"] == "ABORTED"  # and stopped
    assert _failure_messages(provisioned) == [] and change_feed().discarded == 0


def test_a_clean_run_makes_exactly_the_writes_of_the_matrix(provisioned: Any) -> None:
    with killed_after_write(None) as seen:
        _run_flow(provisioned)
    assert tuple(seen) == WRITES
    _assert_nothing_lost_nothing_doubled(provisioned)


@pytest.mark.parametrize(
    "kill_after",
    range(1, len(WRITES) + 1),
    ids=[f"{n}-{w.replace(' ', '-')}" for n, w in enumerate(WRITES, 1)],
)
def test_killed_after_any_write_nothing_is_lost_or_doubled(provisioned: Any, kill_after: int) -> None:
    with killed_after_write(kill_after) as seen:
        _run_flow(provisioned)
    assert len(seen) >= kill_after  # it died there; the redeliveries wrote what was missing
    _assert_nothing_lost_nothing_doubled(provisioned)
