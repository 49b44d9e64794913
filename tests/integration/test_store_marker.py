"""The store marker (``STORE#{store}``/``#STORE``, how the daily reconciliation finds every store) is
written by a store's first capture only (issue 13, cost): later captures in a warm container make no
read and no marker write, in a cold one a single eventually consistent read. Whatever a container
remembers, the reconciliation still lists every store that captured."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cardops.kernel.dynamodb import VersionConflict
from cardops.payments.store.payments import PaymentRepository, StoreMarkers, StorePayments
from cardops.sandbox.lambda_runner import FakeContext
from tests.builders import captured_payment
from tests.conftest import sample
from tests.helpers import AwsCalls, counting_aws_calls, sqs_event


def capture(container: StoreMarkers, payment_id: str, store_id: str = "store-m") -> AwsCalls:
    """A payment's capture written by a processor whose container remembers ``container``."""
    with counting_aws_calls(transaction_sizes=True) as calls:
        repository = PaymentRepository(markers=container)
        repository.save(captured_payment("sandbox", payment_id, store_id=store_id), expected_version=0)
    return calls


def listed() -> list[str]:
    return list(StorePayments().stores())


def items_written(calls: AwsCalls) -> list[int]:
    return [len(items) for items in calls.transactions]


def test_a_stores_first_capture_lists_it_and_a_warm_container_then_writes_and_reads_nothing_more(
    provisioned: Any,
) -> None:
    warm = StoreMarkers()
    first = capture(warm, "pay_1")
    assert (first["dynamodb:GetItem"], items_written(first)) == (1, [3])  # payment, history, marker
    assert listed() == ["store-m"]
    second = capture(warm, "pay_2")
    assert dict(second) == {"dynamodb:TransactWriteItems": 1}
    assert items_written(second) == [2]
    assert listed() == ["store-m"]


def test_a_cold_container_reads_once_and_writes_no_marker(provisioned: Any) -> None:
    capture(StoreMarkers(), "pay_1")
    cold = StoreMarkers()
    second = capture(cold, "pay_2")
    assert dict(second) == {"dynamodb:GetItem": 1, "dynamodb:TransactWriteItems": 1}
    assert items_written(second) == [2]
    third = capture(cold, "pay_3")  # now warm
    assert dict(third) == {"dynamodb:TransactWriteItems": 1}
    assert listed() == ["store-m"]


def test_a_marker_deleted_by_hand_is_written_again_by_the_next_capture(provisioned: Any) -> None:
    capture(StoreMarkers(), "pay_1")
    boto3.client("dynamodb").delete_item(
        TableName=provisioned.table_name, Key={"pk": {"S": "STORE#store-m"}, "sk": {"S": "#STORE"}}
    )
    assert listed() == []
    again = capture(StoreMarkers(), "pay_2")  # the read says absent
    assert (again["dynamodb:GetItem"], items_written(again)) == (1, [3])
    assert listed() == ["store-m"]


class Lagging(StoreMarkers):
    """An eventually consistent read that has not seen the marker yet."""

    def known(self, store_id: str) -> bool:
        return False


def test_a_stale_absent_answer_only_writes_the_marker_again(provisioned: Any) -> None:
    capture(StoreMarkers(), "pay_1")
    stale = capture(Lagging(), "pay_2")
    assert items_written(stale) == [3]
    assert listed() == ["store-m"]  # overwritten, still once


def test_a_capture_that_was_not_written_lists_nobody_and_is_not_remembered(provisioned: Any) -> None:
    capture(StoreMarkers(), "pay_1")
    container = StoreMarkers()
    with pytest.raises(VersionConflict):  # someone wrote pay_1 first: nothing of this transaction is
        capture(container, "pay_1", store_id="store-other")
    assert listed() == ["store-m"]
    with counting_aws_calls() as calls:
        assert not container.known("store-other")
    assert dict(calls) == {"dynamodb:GetItem": 1}


def test_the_memo_is_bounded_least_recently_used_first_out(provisioned: Any) -> None:
    container = StoreMarkers(remember=2)
    for store in ("store-a", "store-b", "store-c"):
        container.written(store)
    with counting_aws_calls() as calls:
        assert container.known("store-b") and container.known("store-c")
    assert not calls
    with counting_aws_calls() as calls:
        assert not container.known("store-a")  # forgotten: read again (and not in this table)
    assert dict(calls) == {"dynamodb:GetItem": 1}


def _processed(payment: bytes, event: str) -> AwsCalls:
    """The processor, under its own role, applying the Stripe sample ``event`` to the sample
    payment renamed ``payment`` (15 characters, as the sample's), of the sample's store."""
    from cardops.handlers.processor import handler

    body = sample(f"webhooks/stripe/{event}.json").replace("QzAbC2eZvKYlo2C", payment.decode())
    body = body.replace("evt_sample_", f"evt_{payment.decode()[:6]}_")
    message = {"provider": "stripe", "event_id": json.loads(body)["id"], "body": body}
    with counting_aws_calls(transaction_sizes=True) as calls:
        result = handler(sqs_event(message), FakeContext(function_name="processor"))
    assert result == {"batchItemFailures": []}
    return calls


def test_the_processor_reads_the_marker_under_its_role_once_per_container(provisioned: Any) -> None:
    """Cold (the fixture starts with an empty container memo): the payment's read and the marker's;
    the same store's next capture in the warm container: the payment's read alone, no marker item."""
    first = _processed(b"FirstFirstFirst", "payment_intent.succeeded")
    assert (first["dynamodb:GetItem"], items_written(first)) == (2, [3])
    assert listed() == ["store_042"]
    second = _processed(b"OtherOtherOther", "payment_intent.succeeded")
    assert (second["dynamodb:GetItem"], items_written(second)) == (1, [2])
    assert listed() == ["store_042"]
