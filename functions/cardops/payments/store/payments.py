"""Payments in DynamoDB (the one table, keyed ``pk``/``sk``, with a sparse ``gsi1`` for listings).

| item             | pk                               | sk                 |
| ---------------- | -------------------------------- | ------------------ |
| payment          | ``PAYMENT#{provider}#{id}``      | ``#PAYMENT``       |
| payment history  | ``PAYMENT#{provider}#{id}``      | ``HISTORY#{seq}``  |
| raw webhook      | ``WEBHOOK#{provider}#{event id}``| ``#EVENT``         |
| reservation      | ``RESERVATION#{id}``             | ``#RESERVATION``   |
| store            | ``STORE#{store}``                | ``#STORE``         |

Every payment still waiting for the provider (pending or authorized) is also on ``gsi2``
(``OPEN#{shard}`` / next check), so the payments janitor reads only what is due
(``payments.store.due_checks``).
Open authorizations are indexed on ``gsi1`` (``STORE#{store}#UNCAPTURED`` / deadline) only while
they are open, so the store's "uncaptured sales" list is one query; once money is captured the same
index lists the payment under ``STORE#{store}#CAPTURED`` / last update (the ledger reconciliation's
by-store, paged read), and the capture's transaction lists the store itself (``STORES#{shard}``)
when it is not listed yet (``StoreMarkers``: one eventually consistent read on a cold container,
none on a warm one, instead of 2 write units in every capture's transaction).
A raw webhook that can never be processed as it is (schema-invalid) is parked on ``gsi1``
(``EVENTS#PARKED`` / parked time) until it is processed again or redriven, so listing those is one
query too.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardops.kernel import aws
from cardops.kernel.dynamodb import (
    StoreUnavailable,
    VersionConflict,
    payment_pk,
    query_items,
)
from cardops.kernel.dynamodb import is_transient as _transient
from cardops.kernel.dynamodb import n as _n
from cardops.kernel.dynamodb import s as _s
from cardops.kernel.dynamodb import table_name as _table
from cardops.payments.domain.payments import Applied, HistoryEntry, Payment, PaymentStatus
from cardops.payments.store.due_checks import due_entry
from cardops.payments.store.raw_events import RawEventStore as RawEventStore

if TYPE_CHECKING:
    from cardops.payments.domain.reservations import Reservation


STORE_SHARDS = 8
"""Stores with captured payments are listed over this many ``gsi1`` partitions (``STORES#{shard}``)."""


def captured_partition(store_id: str) -> str:
    """The ``gsi1`` partition of a store's payments that captured money (its reconciliation reads it)."""
    return f"STORE#{store_id}#CAPTURED"


def _marker_key(store_id: str) -> dict[str, Any]:
    return {"pk": _s(f"STORE#{store_id}"), "sk": _s("#STORE")}


def store_marker(store_id: str) -> dict[str, Any]:
    """The item that lists a store once it has captured money: written with the capture (same
    transaction; an overwrite of an existing one is harmless), so the daily reconciliation finds
    every store by query."""
    shard = int(hashlib.sha256(store_id.encode()).hexdigest(), 16) % STORE_SHARDS
    return {
        "TableName": _table(),
        "Item": {
            **_marker_key(store_id),
            "store_id": _s(store_id),
            "gsi1pk": _s(f"STORES#{shard}"),
            "gsi1sk": _s(store_id),
        },
    }


class StoreMarkers:
    """Whether a store's marker is already written, so a capture adds it only when it is not.

    Markers are never deleted (nothing deletes ``STORE#``/``#STORE``, and they carry no TTL
    attribute): a "present" answer stays true, so it is remembered for the life of the container
    (bounded, least recently used first out) and an eventually consistent read is enough. A stale
    "absent" only writes the marker again, which is harmless; a marker deleted by hand comes back
    with the store's next capture in a container that has not seen it. Keyed by table, so a memo
    never answers for another table (the tests' and benchmarks' fresh moto tables).
    """

    def __init__(self, *, remember: int = 10_000) -> None:
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def known(self, store_id: str) -> bool:
        """From the memo, else one eventually consistent GetItem of the key alone (0.5 read unit)."""
        key = (_table(), store_id)
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
                return True
        found = "Item" in aws.dynamodb().get_item(
            TableName=key[0], Key=_marker_key(store_id), ProjectionExpression="pk", ConsistentRead=False
        )
        if found:
            self.written(store_id)
        return found

    def written(self, store_id: str) -> None:
        """Remember a store whose marker is in the table (read, or written by a committed capture)."""
        key = (_table(), store_id)
        with self._lock:
            self._known[key] = None
            self._known.move_to_end(key)
            while len(self._known) > self._remember:
                self._known.popitem(last=False)

    def forget(self) -> None:
        """Read every store again (the tests, whose tables are made afresh)."""
        with self._lock:
            self._known.clear()


CONTAINER_MARKERS = StoreMarkers()
"""The stores this container has seen listed: a warm processor captures for them with no read."""


class PaymentRepository:
    def __init__(self, *, markers: StoreMarkers | None = None) -> None:
        """``markers``: the container's memo unless given (a test's fresh one is a cold container)."""
        self._markers = CONTAINER_MARKERS if markers is None else markers

    def get(self, provider: str, payment_id: str) -> Payment | None:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=_table(),
                Key={"pk": _s(payment_pk(provider, payment_id)), "sk": _s("#PAYMENT")},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return Payment.model_validate_json(item["doc"]["S"]) if item else None

    def get_with_history(self, provider: str, payment_id: str) -> tuple[Payment, list[HistoryEntry]] | None:
        """The payment and its history in one query (they share the partition)."""
        payment: Payment | None = None
        history: list[HistoryEntry] = []
        for item in self._query_partition(payment_pk(provider, payment_id)):
            if item["sk"]["S"] == "#PAYMENT":
                payment = Payment.model_validate_json(item["doc"]["S"])
            elif item["sk"]["S"].startswith("HISTORY#"):
                history.append(HistoryEntry.model_validate_json(item["doc"]["S"]))
        if payment is None:
            return None
        history.sort(key=lambda entry: entry.seq)
        return payment, history

    def _query_partition(self, pk: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(pk)},
            "ConsistentRead": True,
        }
        return query_items(kwargs)

    def save(self, applied: Applied, *, expected_version: int) -> None:
        """Write the new payment and its history entry atomically, only if nobody wrote in between."""
        payment = applied.payment
        pk = payment_pk(payment.provider, payment.provider_payment_id)
        item: dict[str, Any] = {
            "pk": _s(pk),
            "sk": _s("#PAYMENT"),
            # the status, the store and the time of the change live in ``doc`` only: nothing reads
            # copies of them, and a payment kept under 1 KB bills one write unit per write (and
            # one per index it is on) instead of two (issue 13 item 4). Fields not known yet are
            # left out rather than stored as null (every one defaults to None, so the payment
            # reads back the same, and documents stored with their nulls read as before)
            "doc": _s(payment.model_dump_json(exclude_none=True)),
            "version": _n(payment.version),
        }
        if (
            payment.status == PaymentStatus.AUTHORIZED
            and payment.metadata.store_id
            and payment.capture_deadline is not None
        ):
            item["gsi1pk"] = _s(f"STORE#{payment.metadata.store_id}#UNCAPTURED")
            item["gsi1sk"] = _s(f"{payment.capture_deadline.isoformat()}#{pk}")
        elif payment.facts.captured_amount > 0 and payment.metadata.store_id:
            # money moved: the store's reconciliation finds it here, most recently changed last
            item["gsi1pk"] = _s(captured_partition(payment.metadata.store_id))
            item["gsi1sk"] = _s(f"{payment.updated_at.isoformat()}#{pk}")
        item.update(due_entry(payment, pk))  # on the janitor's index while awaiting the provider
        if expected_version == 0:
            condition = "attribute_not_exists(pk)"
            values: dict[str, Any] | None = None
        else:
            condition = "version = :expected"
            values = {":expected": _n(expected_version)}
        put: dict[str, Any] = {"TableName": _table(), "Item": item, "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = values
        history: dict[str, Any] = {
            "TableName": _table(),
            "Item": {
                "pk": _s(pk),
                "sk": _s(f"HISTORY#{applied.history.seq:08d}"),
                "doc": _s(applied.history.model_dump_json()),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        items: list[dict[str, Any]] = [{"Put": put}, {"Put": history}]
        store_id = payment.metadata.store_id
        listing = None  # the store this capture lists: only one not listed yet (2 WRU otherwise wasted)
        if (
            store_id
            and "facts.captured_amount" in applied.history.changes
            and not self._markers.known(store_id)
        ):
            listing = store_id
            items.append({"Put": store_marker(store_id)})
        try:
            aws.dynamodb().transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise VersionConflict(pk) from exc
                if "TransactionConflict" in reasons:
                    raise VersionConflict(pk) from exc
            if code == "TransactionConflictException" or _transient(exc):
                raise StoreUnavailable(code) from exc
            raise
        if listing:
            self._markers.written(listing)  # only once committed: a failed write lists nobody

    def last_history(self, provider: str, payment_id: str) -> HistoryEntry | None:
        page = aws.dynamodb().query(
            TableName=_table(),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
            ExpressionAttributeValues={":pk": _s(payment_pk(provider, payment_id)), ":h": _s("HISTORY#")},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = page.get("Items", [])
        return HistoryEntry.model_validate_json(items[0]["doc"]["S"]) if items else None

    def list_uncaptured(self, store_id: str) -> list[Payment]:
        """Open authorizations of a store, earliest deadline first."""
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"STORE#{store_id}#UNCAPTURED")},
        }
        return [Payment.model_validate_json(item["doc"]["S"]) for item in query_items(kwargs)]


class StorePayments:
    """What the reconciliation reads of the payments side: by store and paged, never a scan."""

    def stores(self) -> Iterator[str]:
        """Every store that captured money (the store items written with its first capture)."""
        for shard in range(STORE_SHARDS):
            for item in query_items(
                {
                    "TableName": _table(),
                    "IndexName": "gsi1",
                    "KeyConditionExpression": "gsi1pk = :pk",
                    "ExpressionAttributeValues": {":pk": _s(f"STORES#{shard}")},
                }
            ):
                yield item["gsi1sk"]["S"]

    def captured(self, store_id: str, *, changed_since: datetime | None = None) -> Iterator[Payment]:
        """The store's payments that captured money; only those changed since ``changed_since``."""
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(captured_partition(store_id))},
        }
        if changed_since is not None:
            kwargs["KeyConditionExpression"] += " AND gsi1sk >= :since"
            kwargs["ExpressionAttributeValues"][":since"] = _s(changed_since.isoformat())
        for item in query_items(kwargs):
            yield Payment.model_validate_json(item["doc"]["S"])


class ReservationRepository:
    def put(self, reservation: Reservation) -> None:
        aws.dynamodb().put_item(
            TableName=_table(),
            Item={
                "pk": _s(f"RESERVATION#{reservation.reservation_id}"),
                "sk": _s("#RESERVATION"),
                "doc": _s(reservation.model_dump_json()),
                "store_id": _s(reservation.store_id),
            },
        )

    def get(self, reservation_id: str) -> Reservation | None:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=_table(),
                Key={"pk": _s(f"RESERVATION#{reservation_id}"), "sk": _s("#RESERVATION")},
                ConsistentRead=True,
            )
            .get("Item")
        )
        from cardops.payments.domain.reservations import Reservation  # e-mail validation loads on first use

        return Reservation.model_validate_json(item["doc"]["S"]) if item else None
