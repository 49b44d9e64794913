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


def expect_failed_condition(exc: ClientError) -> None:
    """Return when ``exc`` is the write's condition failing (what a put-if-absent expects of a second
    write); raise anything else: ``StoreUnavailable`` when a retry may succeed, else ``exc`` itself."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return
    if is_transient(exc):
        raise StoreUnavailable(code) from exc
    raise exc


def table_name() -> str:
    return lean_settings().table_name


def query_items(kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item a ``Query`` answers, page by page: the one paging loop of every store.

    Errors are the guarded client's (``aws.GuardedClient``): a throttle or a 5xx is
    ``StoreUnavailable`` (the API's 503 with ``Retry-After``); any other driver error (a missing
    grant, a malformed expression) is raised as it is, a defect no retry fixes (the API's 500).
    """
    while True:
        page = aws.dynamodb().query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
