"""Support cases in the one table, and the monthly reports in S3.

* a case: ``CASE#{id}`` / ``#CASE``; its history entries: ``CASE#{id}`` / ``HISTORY#{seq}``;
* ``gsi1``: ``CASES#OPENED#{YYYY-MM}`` / opened#id, the cases opened in a month (the report);
* ``gsi2``: ``CASES#OPEN`` while open, then ``CASES#RESOLVED#{YYYY-MM}`` of its resolution, so the
  open cases and those still open at the end of a past month are queries, not scans.

Months are Asia/Tokyo. A case and its history entry are written in one transaction conditioned on
the version read, so two people acting on a case at once cannot both win, and no entry is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cardops.kernel import aws
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict, query_items
from cardops.kernel.dynamodb import s as _s
from cardops.support.domain.cases import Case, CaseHistoryEntry


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def case_pk(case_id: str) -> str:
    return f"CASE#{case_id}"


OPEN_CASES = "CASES#OPEN"


class CaseStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def _item(self, case: Case) -> dict[str, Any]:
        sort = f"{case.opened_at.isoformat()}#{case.case_id}"
        index = (
            f"CASES#RESOLVED#{_month(tokyo_date(case.resolved_at))}"
            if case.resolved_at is not None
            else OPEN_CASES
        )
        return {
            "pk": _s(case_pk(case.case_id)),
            "sk": _s("#CASE"),
            "doc": _s(case.model_dump_json()),
            "version": {"N": str(case.version)},
            "status": _s(case.status.value),
            "gsi1pk": _s(f"CASES#OPENED#{_month(tokyo_date(case.opened_at))}"),
            "gsi1sk": _s(sort),
            "gsi2pk": _s(index),
            "gsi2sk": _s(sort),
        }

    def save(self, case: Case, entry: CaseHistoryEntry) -> None:
        """The case (new, or the next version of what was read) and its history entry, atomically."""
        put: dict[str, Any] = {"TableName": self.table, "Item": self._item(case)}
        if case.version == 1:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": {"N": str(case.version - 1)}}
        history = {
            "TableName": self.table,
            "Item": {
                "pk": _s(case_pk(case.case_id)),
                "sk": _s(f"HISTORY#{entry.seq:08d}"),
                "doc": _s(entry.model_dump_json()),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        try:
            aws.dynamodb().transact_write_items(TransactItems=[{"Put": put}, {"Put": history}])  # type: ignore[typeddict-item]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if code == "TransactionCanceledException" and (
                "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons
            ):
                raise VersionConflict(case_pk(case.case_id)) from exc
            if code == "TransactionConflictException" or aws.is_transient(exc):
                raise StoreUnavailable(code) from exc
            raise

    def get(self, case_id: str) -> Case | None:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=self.table, Key={"pk": _s(case_pk(case_id)), "sk": _s("#CASE")}, ConsistentRead=True
            )
            .get("Item")
        )
        return Case.model_validate_json(item["doc"]["S"]) if item else None

    def get_with_history(self, case_id: str) -> tuple[Case, list[CaseHistoryEntry]] | None:
        """The case and its history in one query (they share the partition), history oldest first."""
        case: Case | None = None
        history: list[CaseHistoryEntry] = []
        for item in self._query(
            {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": _s(case_pk(case_id))},
            },
            consistent=True,
        ):
            if item["sk"]["S"] == "#CASE":
                case = Case.model_validate_json(item["doc"]["S"])
            else:
                history.append(CaseHistoryEntry.model_validate_json(item["doc"]["S"]))
        if case is None:
            return None
        return case, sorted(history, key=lambda h: h.seq)

    def opened_in(self, month: date) -> list[Case]:
        return self._index("gsi1", f"CASES#OPENED#{_month(month)}")

    def open_cases(self) -> list[Case]:
        return self._index("gsi2", OPEN_CASES)

    def resolved_in(self, month: date) -> list[Case]:
        return self._index("gsi2", f"CASES#RESOLVED#{_month(month)}")

    def _index(self, index: str, partition: str) -> list[Case]:
        query = {
            "IndexName": index,
            "KeyConditionExpression": f"{index}pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(partition)},
        }
        return [Case.model_validate_json(item["doc"]["S"]) for item in self._query(query, consistent=False)]

    def _query(self, query: dict[str, Any], *, consistent: bool) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self.table, **query}
        if consistent:
            kwargs["ConsistentRead"] = True
        return query_items(kwargs)


REPORT_PREFIX = "reports/complaints/"


class ReportBucket:
    """Monthly complaint reports: ``reports/complaints/{YYYY-MM}.json`` and ``.csv``."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def write(self, month: str, *, json_text: str, csv_text: str) -> list[str]:
        if not self.bucket:
            raise StoreUnavailable("no reports bucket is configured (SUPPORT_REPORTS_BUCKET_NAME)")
        keys = []
        for suffix, body, content_type in (
            ("json", json_text, "application/json"),
            ("csv", csv_text, "text/csv; charset=utf-8"),
        ):
            key = f"{REPORT_PREFIX}{month}.{suffix}"
            try:
                aws.s3().put_object(
                    Bucket=self.bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type
                )
            except (ClientError, BotoCoreError) as exc:
                raise StoreUnavailable(f"s3: {exc.__class__.__name__}") from exc
            keys.append(f"s3://{self.bucket}/{key}")
        return keys
