"""DynamoDB persistence of the store ledger (SPEC §6) and of refunds (SPEC §5).

| item                  | pk                                   | sk                   |
| --------------------- | ------------------------------------ | -------------------- |
| ledger entry          | ``LEDGER#{store}#{channel}#{cur}``   | ``ENTRY#{entry id}`` |
| ledger balance        | ``LEDGER#{store}#{channel}#{cur}``   | ``#BALANCE``         |
| refund                | ``PAYMENT#{provider}#{id}``          | ``REFUND#{id}``      |
| refund ceiling        | ``PAYMENT#{provider}#{id}``          | ``#REFUND_CEILING``  |
| debit memo            | ``PAYMENT#{provider}#{id}``          | ``DEBIT_MEMO#{id}``  |
| finance alert         | ``ALERT#{alert id}``                 | ``#ALERT``           |

Finance alerts are listed newest first on ``gsi1`` (``FINANCE#ALERTS``). A balance item a debit was
posted to (a transaction whose sum for that ledger is negative: a refund, a payout, a negative
adjustment) carries a sparse ``gsi2`` key (``LEDGERS#DEBITED``), set in the same update, so no call is
added to any posting: only a debit can take a balance below zero, so every negative balance is in
that partition. Finance's page of negative balances reads just that partition and unmarks the
ledgers it finds at or above zero (conditioned on the balance the item holds then, so a debit posted
meanwhile keeps its mark): the read is bounded by the ledgers debited since it last ran, never a
scan of every store's ledger.

Every write is one ``TransactWriteItems``: each new entry is put with ``attribute_not_exists`` (its
id follows from its cause, so a retry or a concurrent duplicate cannot post it twice), and the
balance item moves by ``ADD balance :sum, entry_count :n`` in the same transaction.

The hot balance item: postings that commute (sales, fees, refunds, reversals, adjustments) do not
read the balance, so they carry no version condition and never conflict logically — ``ADD`` is exact
whatever the order. Only decisions taken *from* the balance (a payout, a batch settlement) condition
the balance item on the ``entry_count`` they read, so nothing can be posted between the read and the
payout. DynamoDB may still cancel a transaction with ``TransactionConflict`` while another one holds
the same item; that is retried here with jittered backoff (the idempotent ``ClientRequestToken`` makes
an SDK-level resend of the same transaction harmless).

The refund ceiling lives on its own item beside the payment (the payment item is rewritten whole by
webhook processing): ``remaining`` starts at the captured amount and every counted refund takes its
amount off it under ``remaining >= :amount`` — the database, not Python, keeps the sum of refunds
within the captured amount. Refunds that stop counting (canceled, rejected, reversed) give it back.

Ledger partitions are listed per store on ``gsi3`` (``STORE#{store}#LEDGERS``, sorted by
``{channel}#{currency}``) through the balance item: the index projects keys only and its sort key
names the ledger, so the listing needs nothing else, and a posting, which changes the balance but
not those keys, writes nothing to it (on the whole-item ``gsi1`` it listed from before, every
posting rewrote the balance's index copy: a write unit per capture, issue 13 item 4). A balance
still listed on ``gsi1`` moves to ``gsi3`` on its next posting; the listing reads both until then.

Statement pages read entries in time order on ``gsi3``: each entry is indexed under
``LEDGER#{store}#{channel}#{cur}#ENTRIES`` with ``statement.time_key`` (its UTC time, then its id) as
the sort key, so a page is one ``Query`` with ``Limit``, not the ledger, and one ``BatchGetItem`` of
the page's entries (per 100): the index projects keys only, so a year of entries is not stored a
second time for the pages that read it. An index costs one more write per entry outside the
transaction's doubled price (a pointer item in the partition would be a second transactional put)
and needs no second item to keep right; its reads are eventually consistent, so an entry posted a
moment ago may show on the next read of the page (the balance item has it at once).
The balance item also sums the entries per Tokyo date they were posted (``at_{YYYYMMDD}``): the
running balance of a statement opens from those sums, not from the entries before the page.

The balance item also keeps, per effective day, the sum of the entries confirmed that day
(``eff_{YYYYMMDD}``, the same ``ADD``) and ``tracked_count``, the entries counted in those sums: a
balance or a payout reads that one item (``LedgerStore.totals``), not the ledger, so its cost does
not grow with the entries. A balance item written before those sums existed (``tracked_count``
short of ``entry_count``) is brought up to date once, from the whole ledger, on its first read;
so is one from before the statement index (``dated_count`` short): its entries get their index keys
and the item its posting-day sums, in the same one-time pass; and one whose entries are still on
the whole-item ``gsi1`` time index of before (``keyed_count`` short): its entries move to ``gsi3``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError

from cardops.kernel import aws
from cardops.kernel.backoff import CONFLICTS
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.dynamodb import (
    StoreUnavailable,
    VersionConflict,
    expect_failed_condition,
    payment_pk,
    query_items,
)
from cardops.kernel.dynamodb import n as _n
from cardops.kernel.dynamodb import s as _s
from cardops.kernel.dynamodb import table_name as _table
from cardops.ledger.domain.ledger import Channel, Ledger, LedgerEntry, LedgerTotals
from cardops.ledger.domain.statement import Order, PageQuery, time_key
from cardops.payments.domain.refunds import DebitMemo, FinanceAlert, Refund, RefundStatus

TRANSACTION_RETRIES = 6
#: the ``gsi1`` partition of refunds still ``requested`` (sparse: the sweep of stuck refunds reads it)
REQUESTED_REFUNDS = "REFUNDS#REQUESTED"
#: the sparse ``gsi2`` partition of balance items a debit was posted to (candidates for a negative balance)
DEBITED_LEDGERS = "LEDGERS#DEBITED"
#: the ``gsi1`` partition of finance alerts (newest first by time)
FINANCE_ALERTS = "FINANCE#ALERTS"
#: keys per ``BatchGetItem`` (DynamoDB's limit)
BATCH_GET_LIMIT = 100


class DuplicateEntry(Exception):
    """An entry in the transaction is already posted: re-read the ledger and post what is new."""


class CeilingExceeded(Exception):
    """The refund ceiling would go below zero: the refunds would exceed the captured amount."""

    def __init__(self, remaining: int | None) -> None:
        super().__init__(f"refund ceiling exceeded (remaining {remaining})")
        self.remaining = remaining


def ledger_pk(store_id: str, channel: Channel, currency: str) -> str:
    return f"LEDGER#{store_id}#{channel.value}#{currency}"


def _entries_index_pk(pk: str) -> str:
    """The ``gsi3`` partition of a ledger's entries in time order (the statement's pages)."""
    return f"{pk}#ENTRIES"


def _ledgers_listing_pk(store_id: str) -> str:
    """The index partition listing a store's ledgers (``gsi3`` now, ``gsi1`` before)."""
    return f"STORE#{store_id}#LEDGERS"


def _ledger_listing_sk(channel: Channel, currency: str) -> str:
    return f"{channel.value}#{currency}"


def _index_keys(pk: str, entry: LedgerEntry) -> dict[str, Any]:
    return {"gsi3pk": _s(_entries_index_pk(pk)), "gsi3sk": _s(time_key(entry))}


#: the balance item's counts of entries already in each one-time completion (``LedgerStore._complete``)
COMPLETED_COUNTS = ("tracked_count", "dated_count", "keyed_count")


@dataclass(frozen=True)
class Write:
    """One item of a transaction and the error its failed condition means."""

    op: dict[str, Any]
    on_condition_failed: Callable[[], Exception]


@dataclass(frozen=True)
class StoredLedger:
    ledger: Ledger
    #: the balance item as stored (equal to ``ledger.balance``: both are the sum of the entries)
    stored_balance: int


def _day_attribute(day: date) -> str:
    return f"eff_{day:%Y%m%d}"


def _posted_attribute(day: date) -> str:
    return f"at_{day:%Y%m%d}"


def _days_of(item: dict[str, Any], prefix: str) -> dict[date, int]:
    """The per-day sums of a balance item stored under ``prefix`` (``eff_`` or ``at_``)."""
    start = len(prefix)
    return {
        date(
            int(name[start : start + 4]), int(name[start + 4 : start + 6]), int(name[start + 6 : start + 8])
        ): int(value["N"])
        for name, value in item.items()
        if name.startswith(prefix) and value["N"] != "0"
    }


def _token(items: list[dict[str, Any]]) -> str:
    """The same transaction always carries the same token (DynamoDB then applies it once)."""
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:36]


def transact(writes: Sequence[Write], *, sleep: Callable[[float], None] | None = None) -> None:
    """Run ``writes`` as one transaction; a failed condition raises that write's own error."""
    items = [w.op for w in writes]
    token = _token(items)
    backoff = CONFLICTS if sleep is None else replace(CONFLICTS, sleep=sleep)
    for _ in backoff.tries():
        try:
            aws.dynamodb().transact_write_items(TransactItems=items, ClientRequestToken=token)  # type: ignore[arg-type]
            return
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            if code == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                for write, reason in zip(writes, reasons, strict=False):
                    if reason == "ConditionalCheckFailed":
                        raise write.on_condition_failed() from exc
                if "TransactionConflict" not in reasons and "ThrottlingError" not in reasons:
                    raise StoreUnavailable(f"transaction canceled: {reasons}") from exc
            elif code not in (
                "TransactionConflictException",
                "TransactionInProgressException",
                "ThrottlingException",
                "ProvisionedThroughputExceededException",
                "RequestLimitExceeded",
                "InternalServerError",
            ):
                raise
    raise StoreUnavailable("transaction kept conflicting; retry")


def entry_writes(
    entries: Sequence[LedgerEntry], *, expected_counts: dict[str, int] | None = None
) -> list[Write]:
    """Puts of the entries and one ``ADD`` per ledger they touch.

    ``expected_counts`` (ledger pk → entry count read) makes the posting conditional on nothing
    having been posted to that ledger since it was read (for decisions taken from the balance).
    """
    writes: list[Write] = []
    totals: dict[str, tuple[LedgerEntry, int, int]] = {}
    days: dict[str, dict[str, int]] = {}
    for entry in entries:
        pk = ledger_pk(entry.store_id, entry.channel, entry.currency)
        writes.append(
            Write(
                op={
                    "Put": {
                        "TableName": _table(),
                        "Item": {
                            "pk": _s(pk),
                            "sk": _s(f"ENTRY#{entry.entry_id}"),
                            "doc": _s(entry.model_dump_json()),
                            "amount": _n(entry.amount),
                            "kind": _s(entry.kind.value),
                            "created_at": _s(entry.created_at.isoformat()),
                            **_index_keys(pk, entry),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                on_condition_failed=functools.partial(DuplicateEntry, entry.entry_id),
            )
        )
        first, total, count = totals.get(pk, (entry, 0, 0))
        totals[pk] = (first, total + entry.amount, count + 1)
        by_day = days.setdefault(pk, {})
        for name in (_day_attribute(entry.effective_on), _posted_attribute(tokyo_date(entry.created_at))):
            by_day[name] = by_day.get(name, 0) + entry.amount
    for pk, (first, total, count) in totals.items():
        debited = total < 0  # only a debit can take the balance below zero: mark it a candidate
        update: dict[str, Any] = {
            "TableName": _table(),
            "Key": {"pk": _s(pk), "sk": _s("#BALANCE")},
            "UpdateExpression": (
                "SET store_id = :store, channel = :channel, currency = :cur, gsi3pk = :g, gsi3sk = :gs"
                + (", gsi2pk = :debited, gsi2sk = :gs2" if debited else "")
                + " REMOVE gsi1pk, gsi1sk"  # listed on gsi1 before: moved (nothing when not)
                + " ADD balance :sum, entry_count :n, "
                + ", ".join(f"{name} :n" for name in COMPLETED_COUNTS)
                + "".join(f", #d{i} :d{i}" for i in range(len(days[pk])))
            ),
            "ExpressionAttributeNames": {f"#d{i}": name for i, name in enumerate(days[pk])},
            "ExpressionAttributeValues": {
                ":store": _s(first.store_id),
                ":channel": _s(first.channel.value),
                ":cur": _s(first.currency),
                ":g": _s(_ledgers_listing_pk(first.store_id)),
                ":gs": _s(_ledger_listing_sk(first.channel, first.currency)),
                ":sum": _n(total),
                ":n": _n(count),
                **{f":d{i}": _n(amount) for i, amount in enumerate(days[pk].values())},
            },
        }
        if debited:
            update["ExpressionAttributeValues"] |= {
                ":debited": _s(DEBITED_LEDGERS),
                ":gs2": _s(f"{first.store_id}#{first.channel.value}#{first.currency}"),
            }
        if expected_counts is not None and pk in expected_counts:
            expected = expected_counts[pk]
            if expected == 0:
                update["ConditionExpression"] = "attribute_not_exists(entry_count) OR entry_count = :expected"
            else:
                update["ConditionExpression"] = "entry_count = :expected"
            update["ExpressionAttributeValues"][":expected"] = _n(expected)
        writes.append(
            Write(op={"Update": update}, on_condition_failed=functools.partial(VersionConflict, pk))
        )
    return writes


def _query(pk: str, *, prefix: str | None = None) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": _s(pk)},
        "ConsistentRead": True,
    }
    if prefix is not None:
        kwargs["KeyConditionExpression"] = "pk = :pk AND begins_with(sk, :prefix)"
        kwargs["ExpressionAttributeValues"][":prefix"] = _s(prefix)
    yield from query_items(kwargs)


class LedgerStore:
    """Ledgers per store, channel and currency; entries only ever added."""

    def load(self, store_id: str, channel: Channel, currency: str = "JPY") -> StoredLedger:
        """All entries of one ledger, oldest first, consistent with its balance item.

        A query is not a snapshot: if a posting landed between pages, the entry count read does not
        match the entries read, and the ledger is read again.
        """
        pk = ledger_pk(store_id, channel, currency)
        for _ in range(TRANSACTION_RETRIES):
            entries: list[LedgerEntry] = []
            count, balance = 0, 0
            for item in _query(pk):
                sk = item["sk"]["S"]
                if sk == "#BALANCE":
                    count = int(item.get("entry_count", {}).get("N", "0"))
                    balance = int(item.get("balance", {}).get("N", "0"))
                elif sk.startswith("ENTRY#"):
                    entries.append(LedgerEntry.model_validate_json(item["doc"]["S"]))
            if count == len(entries):
                entries.sort(key=lambda e: (e.created_at, e.entry_id))
                ledger = Ledger(store_id=store_id, channel=channel, currency=currency, entries=tuple(entries))
                return StoredLedger(ledger=ledger, stored_balance=balance)
        raise StoreUnavailable(f"ledger {pk} kept changing while it was read; retry")

    def totals(
        self, store_id: str, channel: Channel, currency: str = "JPY", *, entry_ids: Sequence[str] = ()
    ) -> LedgerTotals:
        """The ledger's totals from its balance item, with the entries of ``entry_ids`` that exist.

        One ``GetItem`` (and one ``BatchGetItem`` for ``entry_ids``) whatever the ledger's length; a
        balance item from before the per-day sums or the statement index is completed first
        (``_complete``), once.
        """
        pk = ledger_pk(store_id, channel, currency)
        for _ in range(TRANSACTION_RETRIES):
            answer = aws.dynamodb().get_item(
                TableName=_table(), Key={"pk": _s(pk), "sk": _s("#BALANCE")}, ConsistentRead=True
            )
            item: dict[str, Any] = answer.get("Item") or {}
            count = int(item.get("entry_count", {}).get("N", "0"))
            if any(int(item.get(name, {}).get("N", "0")) != count for name in COMPLETED_COUNTS):
                self._complete(store_id, channel, currency)
                continue  # completed (or posted to meanwhile): read it again
            entries = self.get_entries_by_id(pk, entry_ids) if entry_ids else ()
            return LedgerTotals(
                store_id=store_id,
                channel=channel,
                currency=currency,
                balance=int(item.get("balance", {}).get("N", "0")),
                version=count,
                by_effective_day=_days_of(item, "eff_"),
                by_created_day=_days_of(item, "at_"),
                entries=entries,
            )
        raise StoreUnavailable(f"ledger {pk} kept changing while it was read; retry")

    def _complete(self, store_id: str, channel: Channel, currency: str) -> None:
        """Write the per-day sums of a balance item from before them and the index keys of entries
        from before the statement index, from the whole ledger (once); no sums when a posting landed
        meanwhile (the caller reads again and retries)."""
        pk = ledger_pk(store_id, channel, currency)
        self._index_old_entries(pk)
        totals = LedgerTotals.of(self.load(store_id, channel, currency).ledger)
        sums = {_day_attribute(day): amount for day, amount in totals.by_effective_day.items()} | {
            _posted_attribute(day): amount for day, amount in totals.by_created_day.items()
        }
        names = {f"#d{i}": name for i, name in enumerate(sums)}
        values = {f":d{i}": _n(amount) for i, amount in enumerate(sums.values())}
        update: dict[str, Any] = {
            "TableName": _table(),
            "Key": {"pk": _s(pk), "sk": _s("#BALANCE")},
            "UpdateExpression": "SET "
            + ", ".join(f"{name} = :n" for name in COMPLETED_COUNTS)
            + "".join(f", {name} = {value}" for name, value in zip(names, values, strict=True)),
            "ConditionExpression": "entry_count = :n",
            "ExpressionAttributeValues": {":n": _n(totals.version), **values},
        }
        if names:
            update["ExpressionAttributeNames"] = names
        try:
            aws.dynamodb().update_item(**update)
        except ClientError as exc:
            expect_failed_condition(exc)

    @staticmethod
    def _index_old_entries(pk: str) -> None:
        """Give the entries posted before the keys-only time index their keys on it, and take them
        off the whole-item ``gsi1`` time index of before (a one-time pass)."""
        for item in query_items(
            {
                "TableName": _table(),
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "FilterExpression": "attribute_not_exists(gsi3pk)",
                "ExpressionAttributeValues": {":pk": _s(pk), ":prefix": _s("ENTRY#")},
                "ConsistentRead": True,
            }
        ):
            keys = _index_keys(pk, LedgerEntry.model_validate_json(item["doc"]["S"]))
            aws.dynamodb().update_item(
                TableName=_table(),
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET gsi3pk = :p, gsi3sk = :s REMOVE gsi1pk, gsi1sk",
                ExpressionAttributeValues={":p": keys["gsi3pk"], ":s": keys["gsi3sk"]},
            )

    def ledgers_of(self, store_id: str) -> list[tuple[Channel, str]]:
        """The (channel, currency) ledgers a store has, from the balance items' index keys: on
        ``gsi3``, and on ``gsi1`` for a balance not posted to since the listing moved."""
        found: set[tuple[Channel, str]] = set()
        for index in ("gsi3", "gsi1"):
            items = query_items(
                {
                    "TableName": _table(),
                    "IndexName": index,
                    "KeyConditionExpression": f"{index}pk = :pk",
                    "ExpressionAttributeValues": {":pk": _s(_ledgers_listing_pk(store_id))},
                }
            )
            for item in items:
                channel, _, currency = item[f"{index}sk"]["S"].rpartition("#")
                found.add((Channel(channel), currency))
        return sorted(found)

    def entries_page(
        self, store_id: str, channel: Channel, currency: str, page: PageQuery
    ) -> tuple[tuple[LedgerEntry, ...], bool]:
        """The entries of ``page`` and whether more follow: one ``Query`` of ``limit + 1`` keys on
        ``gsi3`` and the page's entries by key (one ``BatchGetItem`` per 100)."""
        keys, after, limit, order = page.keys, page.after, page.limit, page.order
        pk = ledger_pk(store_id, channel, currency)
        index_pk = _entries_index_pk(pk)
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": "gsi3",
            "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":pk": _s(index_pk), ":low": _s(keys.low), ":high": _s(keys.high)},
            "ScanIndexForward": order is Order.OLDEST_FIRST,
            "Limit": limit + 1,
        }
        if after is not None:
            entry_id = after.partition("#")[2]
            kwargs["ExclusiveStartKey"] = {
                "pk": _s(pk),
                "sk": _s(f"ENTRY#{entry_id}"),
                "gsi3pk": _s(index_pk),
                "gsi3sk": _s(after),
            }
        answer = aws.dynamodb().query(**kwargs)
        items = answer.get("Items", [])
        ids = [item["sk"]["S"].removeprefix("ENTRY#") for item in items[:limit]]
        by_id = {entry.entry_id: entry for entry in self.get_entries_by_id(pk, ids)}
        entries = tuple(by_id[entry_id] for entry_id in ids)  # in the index's order
        # fewer items than asked with a LastEvaluatedKey: the answer stopped at 1 MB, more follow
        return entries, len(items) > limit or "LastEvaluatedKey" in answer

    def debited_ledgers(self) -> list[tuple[str, Channel, str]]:
        """The ledgers a debit was posted to since they were last found at or above zero (``gsi2``)."""
        found = query_items(
            {
                "TableName": _table(),
                "IndexName": "gsi2",
                "KeyConditionExpression": "gsi2pk = :pk",
                "ExpressionAttributeValues": {":pk": _s(DEBITED_LEDGERS)},
            }
        )
        return [
            (item["store_id"]["S"], Channel(item["channel"]["S"]), item["currency"]["S"]) for item in found
        ]

    def unmark_debited(self, store_id: str, channel: Channel, currency: str) -> bool:
        """Take the ledger out of the candidates if its balance is still at or above zero (a debit
        posted since it was read keeps it in); whether it was taken out."""
        try:
            aws.dynamodb().update_item(
                TableName=_table(),
                Key={"pk": _s(ledger_pk(store_id, channel, currency)), "sk": _s("#BALANCE")},
                UpdateExpression="REMOVE gsi2pk, gsi2sk",
                ConditionExpression="balance >= :zero",
                ExpressionAttributeValues={":zero": _n(0)},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StoreUnavailable(exc.response.get("Error", {}).get("Code", "")) from exc
        return True

    def post(self, entries: Sequence[LedgerEntry], *, expected_counts: dict[str, int] | None = None) -> None:
        """Post new entries atomically; ``DuplicateEntry`` when one is already there."""
        if entries:
            transact(entry_writes(entries, expected_counts=expected_counts))

    def post_idempotent(self, entries: Sequence[LedgerEntry]) -> tuple[LedgerEntry, ...]:
        """Post ``entries``, skipping those already posted with the same facts; returns the new ones.

        Used for postings that follow from facts (captures, chargebacks): repeating them is harmless.
        O(1) in the ledger's size: the entries are looked up by key (one ``BatchGetItem``), never by
        reading the ledger, so a later refund or update of a long-captured payment costs one read and
        no write; only entries not posted yet are written (the balance item keeps the running sum).
        """
        if not entries:
            return ()
        first = entries[0]
        for _ in CONFLICTS.tries():
            posted = self.get_entries(entries)
            # the domain decides what is new; a same id with different facts raises there
            known = Ledger(
                store_id=first.store_id, channel=first.channel, currency=first.currency, entries=posted
            )
            new = known.post(entries).new_entries
            if not new:
                return ()
            try:
                self.post(new)
            except DuplicateEntry:
                continue  # a concurrent duplicate posted some of them just now: look again
            return new
        raise StoreUnavailable("ledger posting kept racing with a duplicate; retry")

    def get_entries(self, entries: Sequence[LedgerEntry]) -> tuple[LedgerEntry, ...]:
        """The stored versions of ``entries`` that exist, by key (``BatchGetItem``, consistent)."""
        return self._get_by_key(
            list(dict.fromkeys((ledger_pk(e.store_id, e.channel, e.currency), e.entry_id) for e in entries))
        )

    def get_entries_by_id(self, pk: str, entry_ids: Sequence[str]) -> tuple[LedgerEntry, ...]:
        """The entries of one ledger (``pk``) with these ids that exist."""
        return self._get_by_key([(pk, entry_id) for entry_id in dict.fromkeys(entry_ids)])

    def _get_by_key(self, keys: list[tuple[str, str]]) -> tuple[LedgerEntry, ...]:
        found: list[LedgerEntry] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            chunk = keys[start : start + BATCH_GET_LIMIT]
            pending: Any = [{"pk": _s(pk), "sk": _s(f"ENTRY#{entry_id}")} for pk, entry_id in chunk]
            for _ in CONFLICTS.tries():  # sleeps only before re-asking for unprocessed keys
                answer: Any = aws.dynamodb().batch_get_item(
                    RequestItems={_table(): {"Keys": pending, "ConsistentRead": True}}
                )
                found.extend(
                    LedgerEntry.model_validate_json(item["doc"]["S"])
                    for item in answer.get("Responses", {}).get(_table(), [])
                )
                pending = answer.get("UnprocessedKeys", {}).get(_table(), {}).get("Keys", [])
                if not pending:
                    break
            else:
                raise StoreUnavailable("ledger entries kept being throttled while read; retry")
        return tuple(sorted(found, key=lambda e: (e.created_at, e.entry_id)))


class RefundStore:
    """Refunds, the refund ceiling and debit memos, in their payment's partition."""

    def of_payment(self, provider: str, payment_id: str) -> list[Refund]:
        refunds = [
            Refund.model_validate_json(item["doc"]["S"])
            for item in _query(payment_pk(provider, payment_id), prefix="REFUND#")
        ]
        return sorted(refunds, key=lambda r: (r.created_at, r.refund_id))

    def get(self, provider: str, payment_id: str, refund_id: str) -> Refund | None:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=_table(),
                Key={"pk": _s(payment_pk(provider, payment_id)), "sk": _s(f"REFUND#{refund_id}")},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return Refund.model_validate_json(item["doc"]["S"]) if item else None

    def remaining(self, provider: str, payment_id: str) -> int | None:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=_table(),
                Key={"pk": _s(payment_pk(provider, payment_id)), "sk": _s("#REFUND_CEILING")},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return int(item["remaining"]["N"]) if item and "remaining" in item else None

    def finance_alerts(self, *, page_size: int) -> Iterator[FinanceAlert]:
        """Finance alerts, newest first, read ``page_size`` at a time as the caller goes on (``gsi1``)."""
        for item in query_items(
            {
                "TableName": _table(),
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": {":pk": _s(FINANCE_ALERTS)},
                "ScanIndexForward": False,
                "Limit": page_size,
            }
        ):
            yield FinanceAlert.model_validate_json(item["doc"]["S"])

    def debit_memos(self, provider: str, payment_id: str) -> list[DebitMemo]:
        return [
            DebitMemo.model_validate_json(item["doc"]["S"])
            for item in _query(payment_pk(provider, payment_id), prefix="DEBIT_MEMO#")
        ]

    def refund_write(self, refund: Refund, *, expected_version: int) -> Write:
        """Put the refund, conditioned on the version that was read (0: a new refund)."""
        put: dict[str, Any] = {
            "TableName": _table(),
            "Item": {
                "pk": _s(payment_pk(refund.provider, refund.provider_payment_id)),
                "sk": _s(f"REFUND#{refund.refund_id}"),
                "doc": _s(refund.model_dump_json()),
                "version": _n(refund.version),
                "status": _s(refund.status.value),
                "amount": _n(refund.amount),
            },
        }
        if refund.status is RefundStatus.REQUESTED:
            # sparse: only while requested, so the stuck-refund sweep queries just those
            put["Item"]["gsi1pk"] = _s(REQUESTED_REFUNDS)
            put["Item"]["gsi1sk"] = _s(f"{refund.created_at.isoformat()}#{refund.refund_id}")
        if expected_version == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": _n(expected_version)}
        return Write(op={"Put": put}, on_condition_failed=lambda: VersionConflict(refund.refund_id))

    def ceiling_write(self, provider: str, payment_id: str, *, captured: int, delta: int) -> Write:
        """Move the refundable remainder by ``delta`` (negative: a refund counted), never below zero.

        The item starts at the captured amount; the condition is checked by DynamoDB atomically
        with the rest of the transaction, so concurrent refunds cannot overshoot together.
        """
        update: dict[str, Any] = {
            "TableName": _table(),
            "Key": {"pk": _s(payment_pk(provider, payment_id)), "sk": _s("#REFUND_CEILING")},
            "UpdateExpression": "SET remaining = if_not_exists(remaining, :captured) + :delta, "
            "captured = if_not_exists(captured, :captured)",
            "ExpressionAttributeValues": {":captured": _n(captured), ":delta": _n(delta)},
        }
        if delta < 0:
            if captured + delta < 0:
                # the first refund alone exceeds the capture: no item may be created for it
                update["ConditionExpression"] = "remaining >= :need"
            else:
                update["ConditionExpression"] = "attribute_not_exists(remaining) OR remaining >= :need"
            update["ExpressionAttributeValues"][":need"] = _n(-delta)
        return Write(
            op={"Update": update},
            on_condition_failed=lambda: CeilingExceeded(self.remaining(provider, payment_id)),
        )

    def provider_refund_ceiling_write(
        self, provider: str, payment_id: str, *, captured: int, amount: int, level_read: int
    ) -> Write:
        """Take a provider-made refund off the ceiling, only if no other provider refund was
        recorded since ``level_read`` was read (``provider_refunded``: their running sum).

        Two runs that read different provider totals would otherwise both record the difference;
        with the level condition the second fails, re-reads and records only what is still missing.
        """
        update = self.ceiling_write(provider, payment_id, captured=captured, delta=-amount).op["Update"]
        update["UpdateExpression"] += ", provider_refunded = :level"
        level_check = (
            "(attribute_not_exists(provider_refunded) OR provider_refunded = :read)"
            if level_read == 0
            else "provider_refunded = :read"
        )
        update["ConditionExpression"] = f"({update['ConditionExpression']}) AND {level_check}"
        update["ExpressionAttributeValues"] |= {":level": _n(level_read + amount), ":read": _n(level_read)}
        return Write(
            op={"Update": update}, on_condition_failed=lambda: VersionConflict(f"{payment_id} ceiling")
        )

    def requested_before(self, cutoff: datetime) -> Iterator[Refund]:
        """Refunds still ``requested`` that were created before ``cutoff``, oldest first (paged)."""
        for item in query_items(
            {
                "TableName": _table(),
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk < :before",
                "ExpressionAttributeValues": {
                    ":pk": _s(REQUESTED_REFUNDS),
                    ":before": _s(cutoff.isoformat()),
                },
            }
        ):
            yield Refund.model_validate_json(item["doc"]["S"])

    def ceiling_release_write(self, refund: Refund, *, amount: int) -> Write:
        """Give a refund's amount back to the ceiling when the refund stops counting."""
        return Write(
            op={
                "Update": {
                    "TableName": _table(),
                    "Key": {
                        "pk": _s(payment_pk(refund.provider, refund.provider_payment_id)),
                        "sk": _s("#REFUND_CEILING"),
                    },
                    "UpdateExpression": "ADD remaining :amount",
                    "ConditionExpression": "attribute_exists(remaining)",
                    "ExpressionAttributeValues": {":amount": _n(amount)},
                }
            },
            on_condition_failed=lambda: StoreUnavailable(f"refund ceiling of {refund.refund_id} is missing"),
        )

    def debit_memo_write(self, memo: DebitMemo) -> Write:
        return Write(
            op={
                "Put": {
                    "TableName": _table(),
                    "Item": {
                        "pk": _s(payment_pk(memo.provider, memo.provider_payment_id)),
                        "sk": _s(f"DEBIT_MEMO#{memo.memo_id}"),
                        "doc": _s(memo.model_dump_json()),
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            on_condition_failed=lambda: VersionConflict(memo.memo_id),
        )

    def alert_write(self, alert: FinanceAlert) -> Write:
        """The alert is recorded with the change that raised it (then published, see services)."""
        return Write(
            op={
                "Put": {
                    "TableName": _table(),
                    "Item": {
                        "pk": _s(f"ALERT#{alert.alert_id}"),
                        "sk": _s("#ALERT"),
                        "doc": _s(alert.model_dump_json()),
                        "gsi1pk": _s(FINANCE_ALERTS),
                        "gsi1sk": _s(f"{alert.at.isoformat()}#{alert.alert_id}"),
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            on_condition_failed=lambda: DuplicateEntry(alert.alert_id),
        )
