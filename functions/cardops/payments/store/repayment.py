"""DynamoDB persistence of re-payment requests and their audit trail (same single table).

| item           | pk                     | sk                         | gsi1pk        | gsi1sk            |
| -------------- | ---------------------- | -------------------------- | ------------- | ----------------- |
| request        | ``REPAYMENT#{id}``     | ``#REQUEST``               | ``REPAYMENTS``| ``{created}#{id}``|
| audit entry    | ``REPAYMENT#{id}``     | ``AUDIT#{at}#{step}#{n}``  |               |                   |

The support desk's task token is an attribute of the request, set while a decision is awaited.
"""

from __future__ import annotations

import secrets
from typing import Any

from botocore.exceptions import ClientError

from cardops.kernel import aws
from cardops.kernel.dynamodb import StoreUnavailable, query_items
from cardops.kernel.dynamodb import is_transient as _transient
from cardops.kernel.dynamodb import table_name as _table
from cardops.payments.domain.repayment_requests import AuditEntry, RepaymentRecord, RepaymentStatus

LIST_PK = "REPAYMENTS"


class AlreadyExists(Exception):
    """A request with this id was created before."""


class StatusConflict(Exception):
    """The request is not in the status the change requires (e.g. no decision is awaited)."""


def _pk(request_id: str) -> dict[str, str]:
    return {"S": f"REPAYMENT#{request_id}"}


def _reraise(exc: ClientError) -> None:
    if _transient(exc):
        raise StoreUnavailable(str(exc.response.get("Error", {}).get("Code"))) from exc


class RepaymentStore:
    def create(self, record: RepaymentRecord) -> None:
        item = self._item(record)
        try:
            aws.dynamodb().put_item(
                TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise AlreadyExists(record.request_id) from exc
            _reraise(exc)
            raise

    def save(self, record: RepaymentRecord, *, expected: tuple[RepaymentStatus, ...] | None = None) -> None:
        """Overwrite the request (keeping its task token), only from one of ``expected`` statuses."""
        names = {"#doc": "doc", "#status": "status", "#u": "updated_at"}
        values: dict[str, Any] = {
            ":doc": {"S": record.model_dump_json()},
            ":status": {"S": record.status.value},
            ":u": {"S": record.updated_at.isoformat()},
        }
        condition = "attribute_exists(pk)"
        if expected:
            keys = []
            for n, status in enumerate(expected):
                values[f":e{n}"] = {"S": status.value}
                keys.append(f":e{n}")
            condition += f" AND #status IN ({', '.join(keys)})"
        try:
            aws.dynamodb().update_item(
                TableName=_table(),
                Key={"pk": _pk(record.request_id), "sk": {"S": "#REQUEST"}},
                UpdateExpression="SET #doc = :doc, #status = :status, #u = :u",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StatusConflict(record.request_id) from exc
            _reraise(exc)
            raise

    def set_task_token(self, request_id: str, token: str | None) -> None:
        key = {"pk": _pk(request_id), "sk": {"S": "#REQUEST"}}
        if token is None:
            aws.dynamodb().update_item(TableName=_table(), Key=key, UpdateExpression="REMOVE task_token")
            return
        aws.dynamodb().update_item(
            TableName=_table(),
            Key=key,
            UpdateExpression="SET task_token = :t",
            ExpressionAttributeValues={":t": {"S": token}},
        )

    def get(self, request_id: str) -> RepaymentRecord | None:
        found = self.get_with_token(request_id)
        return found[0] if found else None

    def get_with_token(self, request_id: str) -> tuple[RepaymentRecord, str | None] | None:
        try:
            item = (
                aws.dynamodb()
                .get_item(
                    TableName=_table(),
                    Key={"pk": _pk(request_id), "sk": {"S": "#REQUEST"}},
                    ConsistentRead=True,
                )
                .get("Item")
            )
        except ClientError as exc:
            _reraise(exc)
            raise
        if not item:
            return None
        token = item.get("task_token", {}).get("S")
        return RepaymentRecord.model_validate_json(item["doc"]["S"]), token

    def audit(self, request_id: str, entry: AuditEntry) -> None:
        sk = f"AUDIT#{entry.at.isoformat()}#{entry.step}#{secrets.token_hex(3)}"
        aws.dynamodb().put_item(
            TableName=_table(),
            Item={"pk": _pk(request_id), "sk": {"S": sk}, "doc": {"S": entry.model_dump_json()}},
        )

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        items = query_items(
            {
                "TableName": _table(),
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :a)",
                "ExpressionAttributeValues": {":pk": _pk(request_id), ":a": {"S": "AUDIT#"}},
                "ConsistentRead": True,
            }
        )
        return [AuditEntry.model_validate_json(i["doc"]["S"]) for i in items]

    def list(self, limit: int = 50) -> list[RepaymentRecord]:
        """Newest first."""
        page = aws.dynamodb().query(
            TableName=_table(),
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": LIST_PK}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [RepaymentRecord.model_validate_json(i["doc"]["S"]) for i in page.get("Items", [])]

    @staticmethod
    def _item(record: RepaymentRecord) -> dict[str, Any]:
        return {
            "pk": _pk(record.request_id),
            "sk": {"S": "#REQUEST"},
            "doc": {"S": record.model_dump_json()},
            "status": {"S": record.status.value},
            "updated_at": {"S": record.updated_at.isoformat()},
            "gsi1pk": {"S": LIST_PK},
            "gsi1sk": {"S": f"{record.created_at.isoformat()}#{record.request_id}"},
        }
