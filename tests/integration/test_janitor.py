"""The payments janitor on due time (issue 11 item 4): lost webhooks and lost workflow starts are
repaired from the provider, through the real scheduler → queue → worker path, each handler as its
own IAM role, against the PAY.JP emulator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from cardops.kernel import clock
from cardops.kernel.dynamodb import payment_pk
from cardops.payments.domain.due_checks import POLICY, DueRef, Schedule
from cardops.payments.domain.payments import CanonicalEvent, EventKind, PaymentStatus
from cardops.payments.providers.base import PaymentProvider
from cardops.payments.providers.payjp import client as payjp_provider
from cardops.payments.store.due_checks import DuePayments, due_sort_key
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases.payment_events import apply_canonical
from cardops.sandbox.lambda_runner import FakeContext
from cardops.sandbox.queue_worker import QueueWorker
from tests.helpers import counting_aws_calls, sqs_event

#: DynamoDB's writing operations, as ``counting_aws_calls`` names them
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def authorized_through_webhook(emulator: Any) -> str:
    from cardops.handlers.processor import handler

    charge = emulator.create_charge(
        {"amount": "6000", "currency": "jpy", "card": "tok_visa", "capture": "false", "expiry_days": "30"}
    )
    body = json.dumps(
        {"id": f"evnt_{charge['id']}", "type": "charge.succeeded", "data": {"id": charge["id"]}}
    )
    message = {"provider": "payjp", "event_id": f"evnt_{charge['id']}", "body": body}
    assert handler(sqs_event(message), FakeContext("processor")) == {"batchItemFailures": []}
    return str(charge["id"])


def stop_executions(provisioned: Any) -> None:
    """Leave no execution waiting after a test (moto cannot stop one that has not begun yet)."""
    sfn = boto3.client("stepfunctions", region_name="ap-northeast-1")
    for arn in provisioned.state_machine_arns.values():
        for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            for _ in range(50):
                try:
                    sfn.stop_execution(executionArn=execution["executionArn"])
                    break
                except AttributeError:
                    time.sleep(0.05)


def provider_for(emulator: Any) -> Any:
    from cardops.payments.providers import registry

    def lookup(name: str) -> PaymentProvider | None:
        return registry.provider_client(name) if name == "payjp" else None

    return lookup


class Janitor:
    """The deployed janitor's two functions, at a chosen time: the schedule fires, SQS triggers the worker."""

    def __init__(self, provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        from cardops.handlers import janitor_worker

        self.provisioned = provisioned
        self.monkeypatch = monkeypatch
        self.queue = QueueWorker(provisioned.janitor_queue_url, janitor_worker.handler)

    def at(self, when: datetime) -> Janitor:
        self.monkeypatch.setattr(clock, "now", lambda: when)
        return self

    def schedule(self) -> dict[str, Any]:
        from cardops.handlers.janitor import handler

        result: dict[str, Any] = handler(
            {"source": "aws.events", "detail-type": "Scheduled Event"}, FakeContext("janitor")
        )
        return result

    def drain(self) -> int:
        """Every message the worker takes (as the event source would), until the queue is empty."""
        received = 0
        while n := self.queue.drain_once(wait_seconds=0):
            received += n
        return received

    def run(self) -> dict[str, Any]:
        result = self.schedule()
        self.drain()
        return result


@pytest.fixture
def janitor(emulator: Any, provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Janitor]:
    try:
        yield Janitor(provisioned, monkeypatch)
    finally:
        stop_executions(provisioned)


def _due(provider: str, payment_id: str) -> Any:
    return DuePayments().state(DueRef(provider=provider, payment_id=payment_id))


def test_a_capture_whose_webhook_was_lost_is_repaired_by_the_next_run(
    emulator: Any, janitor: Janitor
) -> None:
    charge_id = authorized_through_webhook(emulator)
    emulator.capture_charge(charge_id, {})  # the emulator has no webhook URL: the webhook is lost
    state = _due("payjp", charge_id)
    assert state is not None
    later = state.anchor + POLICY.quiet + timedelta(seconds=1)

    result = janitor.at(later).run()

    assert result["enqueued"] == 1 and result["finished"] is True
    found = PaymentRepository().get_with_history("payjp", charge_id)
    assert found is not None
    payment, history = found
    assert payment.status is PaymentStatus.CAPTURED
    assert history[-1].actor == "janitor" and history[-1].to_status is PaymentStatus.CAPTURED
    # captured payments leave the janitor's index: the next run has nothing to do
    assert _due("payjp", charge_id) is None
    assert janitor.at(later + timedelta(hours=1)).run()["enqueued"] == 0


def test_a_payment_is_not_due_within_the_quiet_period(emulator: Any, janitor: Janitor) -> None:
    charge_id = authorized_through_webhook(emulator)
    state = _due("payjp", charge_id)
    assert state is not None
    assert timedelta(0) <= state.anchor - state.payment.updated_at < POLICY.quiet * POLICY.jitter
    first = state.anchor + POLICY.quiet

    assert janitor.at(first - timedelta(seconds=1)).run()["enqueued"] == 0
    assert janitor.at(first).run()["enqueued"] == 1


def _raw_item(provisioned: Any, payment_id: str) -> dict[str, Any]:
    item: dict[str, Any] = boto3.client("dynamodb", region_name="ap-northeast-1").get_item(
        TableName=provisioned.table_name,
        Key={"pk": {"S": payment_pk("payjp", payment_id)}, "sk": {"S": "#PAYMENT"}},
        ConsistentRead=True,
    )["Item"]
    return item


def test_a_check_finding_nothing_makes_no_write_and_the_next_check_follows_the_anchor(
    emulator: Any, provisioned: Any, janitor: Janitor
) -> None:
    charge = emulator.create_charge(
        {"amount": "5000", "currency": "jpy", "card": "tok_visa", "capture": "false", "expiry_days": "30"}
    )
    snapshot = payjp_provider.charge_to_payment(charge)
    event = CanonicalEvent(
        provider="payjp",
        provider_payment_id=charge["id"],
        event_id="evnt_start_lost",
        kind=EventKind.AUTHORIZED,
        occurred_at=clock.now(),
        facts=snapshot.facts,
        metadata=snapshot.metadata,
    )
    apply_canonical(event, PaymentRepository(), now=clock.now())
    state = _due("payjp", charge["id"])
    assert state is not None
    before = _raw_item(provisioned, charge["id"])
    first, second = (state.anchor + offset for offset in POLICY.offsets(Schedule.AUTHORIZED)[:2])

    janitor.at(first).schedule()
    with counting_aws_calls() as calls:
        assert janitor.drain() == 1

    assert _raw_item(provisioned, charge["id"]) == before  # nothing new: nothing written at all
    assert not {call for call in calls if call.split(":")[1] in WRITES}, dict(calls)
    # not due again until its second check; then checked again
    assert janitor.at(second - timedelta(seconds=1)).run()["enqueued"] == 0
    assert janitor.at(second).run()["enqueued"] == 1
    assert _raw_item(provisioned, charge["id"]) == before


def test_a_duplicate_batch_costs_a_read_and_a_provider_call_and_writes_nothing(
    emulator: Any, janitor: Janitor
) -> None:
    charge_id = authorized_through_webhook(emulator)
    later = clock.now() + timedelta(hours=1)
    janitor.at(later).schedule()
    messages = boto3.client("sqs", region_name="ap-northeast-1").receive_message(
        QueueUrl=janitor.provisioned.janitor_queue_url, MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 1
    from cardops.handlers.janitor_worker import handler

    body = json.loads(messages[0]["Body"])
    assert body["payments"] == [{"provider": "payjp", "payment_id": charge_id}]
    event = sqs_event(body)
    assert handler(event, FakeContext("janitor-worker")) == {"batchItemFailures": []}
    asked = len(emulator.requests)
    with counting_aws_calls() as calls:
        assert handler(event, FakeContext("janitor-worker")) == {"batchItemFailures": []}
    # its due state (the merge takes that payment); no count to protect, so no write
    assert dict(calls) == {"dynamodb:GetItem": 1}
    assert len(emulator.requests) == asked + 1  # the provider asked again


def test_payments_written_before_the_anchors_read_their_key_as_an_anchor(
    emulator: Any, provisioned: Any, janitor: Janitor
) -> None:
    """Migration, no backfill: an open payment keyed ``{updated_at}#{pk}`` (before the due index,
    no microseconds) or ``{next_check_at}#{pk}`` (before the anchors) is checked a quiet period
    after that time, and keeps its key while nothing changes."""
    charge_id = authorized_through_webhook(emulator)
    emulator.capture_charge(charge_id, {})
    other = authorized_through_webhook(emulator)
    ddb = boto3.client("dynamodb", region_name="ap-northeast-1")
    legacy = clock.now().replace(microsecond=0) - timedelta(hours=1)
    keys = {}
    for payment_id, stamp in ((charge_id, legacy.isoformat()), (other, due_sort_key(legacy, "").rstrip("#"))):
        pk = payment_pk("payjp", payment_id)
        keys[payment_id] = f"{stamp}#{pk}"
        ddb.update_item(
            TableName=provisioned.table_name,
            Key={"pk": {"S": pk}, "sk": {"S": "#PAYMENT"}},
            UpdateExpression="SET gsi2sk = :legacy",
            ExpressionAttributeValues={":legacy": {"S": keys[payment_id]}},
        )
    later = clock.now() + timedelta(minutes=1)  # inside the quiet period: only the old keys make them due

    assert janitor.at(later).run()["enqueued"] == 2

    repaired = PaymentRepository().get("payjp", charge_id)
    assert repaired is not None and repaired.status is PaymentStatus.CAPTURED
    assert _due("payjp", charge_id) is None
    state = _due("payjp", other)
    assert state is not None and state.anchor == legacy
    assert _raw_item(provisioned, other)["gsi2sk"]["S"] == keys[other]


def test_a_checkpoint_left_by_the_janitor_before_the_anchors_starts_the_next_window(
    emulator: Any, provisioned: Any, janitor: Janitor
) -> None:
    """The deployed checkpoint holds a run of the old scheduler (no window start, a shard and an
    index position of the old reads), even one it left unfinished: its cutoff starts the window."""
    charge_id = authorized_through_webhook(emulator)
    emulator.capture_charge(charge_id, {})
    state = _due("payjp", charge_id)
    assert state is not None
    first = state.anchor + POLICY.quiet
    boto3.client("dynamodb", region_name="ap-northeast-1").put_item(
        TableName=provisioned.table_name,
        Item={
            "pk": {"S": "JANITOR#CHECKPOINT"},
            "sk": {"S": "#RUN"},
            "run_id": {"S": "old"},
            "cutoff": {"S": (first - timedelta(minutes=5)).isoformat()},
            "shard": {"N": "3"},
            "start": {"S": '{"pk": {"S": "PAY#payjp#ch_x"}}'},
            "enqueued": {"N": "0"},
            "pages": {"N": "1"},
            "finished": {"BOOL": False},
            "seq": {"N": "7"},
        },
    )

    result = janitor.at(first + timedelta(minutes=5)).run()

    assert result["enqueued"] == 1 and result["finished"] is True
    assert [run["resumed"] for run in result["runs"]] == [False]
    assert _due("payjp", charge_id) is None  # repaired


def test_a_batch_that_is_not_a_janitor_message_fails_alone(provisioned: Any) -> None:
    from cardops.handlers.janitor_worker import handler

    good = {"run_id": "r1", "payments": [{"provider": "payjp", "payment_id": "ch_none"}]}
    event = sqs_event(good, message_id="good")
    event["Records"] += sqs_event({"payments": "nope"}, message_id="bad")["Records"]

    assert handler(event, FakeContext("janitor-worker")) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
