"""The DynamoDB base every slice's store builds on: one table keyed ``pk``/``sk``, attribute values,
the version conflict, and driver errors as ``StoreUnavailable`` (never a raw botocore error).

The items each slice keeps, and its indexes, are documented in that slice's store
(``payments/store/payments.py``, ``ledger/store.py``, ``feeds/store.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from cardops.kernel import aws
from cardops.kernel.aws import StoreUnavailable as StoreUnavailable  # re-exported: its home for callers
from cardops.kernel.config import lean_settings


class VersionConflict(Exception):
    """Someone else changed the item since it was read: re-read and re-apply."""


def payment_pk(provider: str, payment_id: str) -> str:
    return f"PAYMENT#{provider}#{payment_id}"


def s(value: str) -> dict[str, str]:
    """A DynamoDB string attribute value."""
    return {"S": value}


def n(value: int) -> dict[str, str]:
    """A DynamoDB number attribute value."""
    return {"N": str(value)}


is_transient = aws.is_transient


def table_name() -> str:
    return lean_settings().table_name


def query_items(kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item a ``Query`` answers, page by page; a driver error is ``StoreUnavailable``."""
    while True:
        try:
            page = aws.dynamodb().query(**kwargs)
        except ClientError as exc:
            raise StoreUnavailable(exc.response.get("Error", {}).get("Code", "")) from exc
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
