"""DynamoDB persistence of a payment's notices and re-payment links (same table, the payment's partition).

| item   | pk                          | sk                                       |
| ------ | --------------------------- | ---------------------------------------- |
| notice | ``PAYMENT#{provider}#{id}`` | ``NOTE#NOTICE#{event key}``              |
| link   | ``PAYMENT#{provider}#{id}`` | ``NOTE#LINK#{relation}#{other id}``      |

Each write is a conditional put on its key, so a retried workflow step records a notice once and
keeps the time it was first sent.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cardops.kernel import aws
from cardops.kernel.dynamodb import expect_failed_condition, payment_pk, query_items
from cardops.kernel.dynamodb import s as _s
from cardops.kernel.dynamodb import table_name as _table
from cardops.payments.domain.payment_notes import Notice, PaymentLink, PaymentNotes

PREFIX = "NOTE#"


class PaymentNoteStore:
    def record_notice(self, provider: str, payment_id: str, notice: Notice) -> None:
        self._put_once(provider, payment_id, f"{PREFIX}NOTICE#{notice.event_key}", notice.model_dump_json())

    def link(self, provider: str, payment_id: str, link: PaymentLink) -> None:
        sk = f"{PREFIX}LINK#{link.relation}#{link.provider_payment_id}"
        self._put_once(provider, payment_id, sk, link.model_dump_json())

    def notes(self, provider: str, payment_id: str) -> PaymentNotes:
        notices: list[Notice] = []
        links: list[PaymentLink] = []
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :note)",
            "ExpressionAttributeValues": {":pk": _s(payment_pk(provider, payment_id)), ":note": _s(PREFIX)},
            "ConsistentRead": True,
        }
        for item in query_items(kwargs):
            sk, doc = item["sk"]["S"], item["doc"]["S"]
            if sk.startswith(f"{PREFIX}NOTICE#"):
                notices.append(Notice.model_validate_json(doc))
            elif sk.startswith(f"{PREFIX}LINK#"):
                links.append(PaymentLink.model_validate_json(doc))
        return PaymentNotes(
            notices=tuple(sorted(notices, key=lambda n: (n.at, n.event_key))),
            links=tuple(sorted(links, key=lambda link: (link.at, link.provider_payment_id))),
        )

    def _put_once(self, provider: str, payment_id: str, sk: str, doc: str) -> None:
        try:
            aws.dynamodb().put_item(
                TableName=_table(),
                Item={"pk": _s(payment_pk(provider, payment_id)), "sk": _s(sk), "doc": _s(doc)},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            expect_failed_condition(exc)
