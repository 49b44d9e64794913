"""Items carry each fact once (issue 13 item 4): every write bills a unit per started KB of the whole
item, and each index the item is on bills its own (projection ALL), so copies of ``doc``'s fields
beside it would cost write units on every change of a payment."""

from __future__ import annotations

from typing import Any

import boto3

from cardops.payments.store.payments import PaymentRepository, payment_pk
from tests.benchmarks.footprint import item_size
from tests.builders import captured_payment


def test_a_payment_item_is_its_keys_doc_and_version(provisioned: Any) -> None:
    applied = captured_payment("stripe", "pi_3QzAbC2eZvKYlo2C0xyz9876", store_id="store_042")
    PaymentRepository().save(applied, expected_version=0)
    item = boto3.client("dynamodb").get_item(
        TableName=provisioned.table_name,
        Key={"pk": {"S": payment_pk("stripe", "pi_3QzAbC2eZvKYlo2C0xyz9876")}, "sk": {"S": "#PAYMENT"}},
    )["Item"]
    assert set(item) == {"pk", "sk", "doc", "version", "gsi1pk", "gsi1sk"}
    assert PaymentRepository().get("stripe", "pi_3QzAbC2eZvKYlo2C0xyz9876") == applied.payment
    plain = (
        boto3.resource("dynamodb")
        .Table(provisioned.table_name)
        .get_item(Key={"pk": item["pk"]["S"], "sk": "#PAYMENT"})["Item"]
    )
    assert item_size(plain) <= 1024
