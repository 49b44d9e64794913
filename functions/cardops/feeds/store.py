"""Card-feed persistence (SPEC §7): tenants, employees, lines, error data, runs, the watermark; S3 files.

Items live in the one table (``pk``/``sk`` + sparse ``gsi1``):

- tenant: ``TENANT#{t}`` / ``#TENANT`` (gsi1 ``FEEDTENANTS`` / ``{t}``)
- employee: ``TENANT#{t}`` / ``EMPLOYEE#{code}``
- linkage-code claim: ``TENANT#{t}`` / ``LINKAGE#{normalized code}`` → ``employee_code``
- card line: ``TENANT#{t}#LINES#{shard}`` / ``LINE#{line_id}`` (shard: CRC-32 of the line identity
  mod ``LINE_SHARDS``, so a 100k-line sync spreads over that many partitions instead of one); gsi1
  ``TENANT#{t}#CARDERRORS`` while it is error data, ``TENANT#{t}#EMPLOYEE#{code}`` once matched,
  gsi1sk ``{usage date}#{line_id}``
- the date index of lines (key design, no GSI): in the line's partition, ``DATE#{usage date}#{line_id}``,
  a pointer written *before* its line; a date range is one range query per shard, then
  BatchGetItem of those lines, never the tenant's whole history (a pointer whose line a crash left
  unwritten is skipped, and the re-run writes the line). A refund line (negative amount) has a
  second pointer ``REFUND#{usage date}#{line_id}``. Both carry ``card``, a short hash of the card
  key refund linking pairs on (``card_tag``), so refund linking reads the refunds' pointers, scans
  only the date pointers' keys and card tags, and fetches the refunds and the purchases on their
  cards: not every line of its window
- sync run: ``FEEDSYNC`` / ``RUN#{business date}#{started at}``; checkpoint ``FEEDSYNC`` /
  ``#CHECKPOINT``; watermark ``FEEDSYNC`` / ``#WATERMARK``; file read ``FEEDSYNC`` / ``FILE#{key}``
  (ETag, expires after 35 days)

Error data is therefore one query (``gsi1`` on ``…#CARDERRORS``), an employee's lines another. A line
is written once: the feed-sync function checks which identities (card company + line identity) are
stored with BatchGetItem and writes the others with BatchWriteItem (``kernel/batch_writes.py``,
paced per partition); without a batch writer (the admin API's on-demand run) each line is one
transaction: its date pointer and a put with ``attribute_not_exists``. That is the store's half of
deduplication; later changes are version-checked. The linkage-code claim item
makes "one employee per card linkage code" a transactional guarantee, not a read-then-write race.
Driver errors become ``VersionConflict``/``StoreUnavailable`` here, as in ``dynamodb.py``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from pydantic import AwareDatetime, BaseModel, ConfigDict

from cardops.feeds.domain.models import Employee, StatementLine
from cardops.feeds.domain.normalize import normalize_code
from cardops.feeds.domain.reader import ReadableBinary
from cardops.feeds.domain.refund_links import RefundLink, card_key
from cardops.feeds.domain.schedule import DeliveredFile
from cardops.feeds.domain.settlement import LineRecord
from cardops.kernel import aws
from cardops.kernel.batch_writes import BatchWriter
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.config import settings
from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict, query_items
from cardops.kernel.dynamodb import is_transient as _transient
from cardops.kernel.dynamodb import n as _n
from cardops.kernel.dynamodb import s as _s
from cardops.kernel.dynamodb import table_name as _table

SYNC_PK = "FEEDSYNC"
#: Partitions a tenant's lines are spread over (each takes 1,000 WCU/s).
LINE_SHARDS = 16
FEED_PREFIX = "feeds/"
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class LinkageCodeTaken(Exception):
    """Another employee of the tenant already holds this card linkage code."""

    def __init__(self, linkage_code: str, holder: str) -> None:
        super().__init__(f"card linkage code {linkage_code!r} is already held by employee {holder}")
        self.linkage_code = linkage_code
        self.holder = holder


class Tenant(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    corporate_number: str | None = None
    updated_at: AwareDatetime
    #: the admin (IAM caller ARN) who registered the corporate number
    updated_by: str | None = None


class StoredLine(BaseModel):
    """A line record as stored: the domain record, its refund link, and the optimistic version."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    record: LineRecord
    refund: RefundLink | None = None
    #: who last changed the line by hand (assign, link, select, exclude); None when only matched
    changed_by: str | None = None
    version: int = 1


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def line_pk(tenant_id: str, line_id: str) -> str:
    """The partition of a line: derived from its identity, so a lookup by identity needs no index."""
    return _shard_pk(tenant_id, zlib.crc32(line_id.encode()) % LINE_SHARDS)


def _shard_pk(tenant_id: str, shard: int) -> str:
    return f"TENANT#{tenant_id}#LINES#{shard:02d}"


def line_date_sk(line: StatementLine) -> str:
    return f"DATE#{line.usage_date.isoformat()}#{line.line_id}"


def card_tag(line: StatementLine) -> str:
    """A short hash of the line's ``card_key``: pointers carry it so refund linking fetches only the
    purchases on a refund's card (a collision fetches a line more; the pairing compares whole keys)."""
    return f"{zlib.crc32(chr(31).join(card_key(line)).encode()):08x}"


def batch_writer(parallelism: int = 4) -> BatchWriter:
    """The feed-sync function's bulk writer (only its role may BatchWriteItem).

    A line item carries two partition keys, the table's and gsi1's: each write is paced on both.
    """
    return BatchWriter(aws.dynamodb(), _table(), ("pk", "gsi1pk"), parallelism=parallelism)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _driver(exc: ClientError) -> Exception:
    """The domain error for a driver failure that is not a condition check."""
    if _transient(exc) or _code(exc) == "TransactionConflictException":
        return StoreUnavailable(_code(exc))
    return exc


def _guard(call: Callable[[], T]) -> T:
    try:
        return call()
    except ClientError as exc:
        raise _driver(exc) from exc


class FeedStore:
    """Every feed item of the table; one instance per request or run.

    With a ``writer`` new lines are stored in batches (the feed-sync function); without one, one
    transaction (pointer + conditional put) each.
    """

    def __init__(self, writer: BatchWriter | None = None) -> None:
        self.writer = writer

    @property
    def batched(self) -> bool:
        return self.writer is not None

    # ---- tenants ---------------------------------------------------------------------------
    def put_tenant(self, tenant: Tenant) -> None:
        _guard(
            lambda: aws.dynamodb().put_item(
                TableName=_table(),
                Item={
                    "pk": _s(tenant_pk(tenant.tenant_id)),
                    "sk": _s("#TENANT"),
                    "doc": _s(tenant.model_dump_json()),
                    "gsi1pk": _s("FEEDTENANTS"),
                    "gsi1sk": _s(tenant.tenant_id),
                },
            )
        )

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        item = self._get(tenant_pk(tenant_id), "#TENANT")
        return Tenant.model_validate_json(item["doc"]["S"]) if item else None

    # ---- employees -------------------------------------------------------------------------
    def get_employee(self, tenant_id: str, employee_code: str) -> Employee | None:
        item = self._get(tenant_pk(tenant_id), f"EMPLOYEE#{employee_code}")
        return Employee.model_validate_json(item["doc"]["S"]) if item else None

    def employees(self, tenant_id: str) -> list[Employee]:
        return [
            Employee.model_validate_json(item["doc"]["S"])
            for item in self._query(tenant_pk(tenant_id), "EMPLOYEE#")
        ]

    def put_employee(self, tenant_id: str, employee: Employee) -> None:
        """Create or replace an employee; its linkage code is claimed atomically (``LinkageCodeTaken``)."""
        pk = tenant_pk(tenant_id)
        previous = self.get_employee(tenant_id, employee.employee_code)
        new_key = normalize_code(employee.card_linkage_code)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": _table(),
                    "Item": {
                        "pk": _s(pk),
                        "sk": _s(f"LINKAGE#{new_key}"),
                        "employee_code": _s(employee.employee_code),
                    },
                    "ConditionExpression": "attribute_not_exists(pk) OR employee_code = :me",
                    "ExpressionAttributeValues": {":me": _s(employee.employee_code)},
                }
            },
            {
                "Put": {
                    "TableName": _table(),
                    "Item": {
                        "pk": _s(pk),
                        "sk": _s(f"EMPLOYEE#{employee.employee_code}"),
                        "doc": _s(employee.model_dump_json()),
                    },
                }
            },
        ]
        if previous is not None and (old_key := normalize_code(previous.card_linkage_code)) != new_key:
            items.append(
                {
                    "Delete": {
                        "TableName": _table(),
                        "Key": {"pk": _s(pk), "sk": _s(f"LINKAGE#{old_key}")},
                        "ConditionExpression": "attribute_not_exists(pk) OR employee_code = :me",
                        "ExpressionAttributeValues": {":me": _s(employee.employee_code)},
                    }
                }
            )
        try:
            aws.dynamodb().transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    claim = self._get(pk, f"LINKAGE#{new_key}")
                    holder = claim["employee_code"]["S"] if claim else "?"
                    raise LinkageCodeTaken(employee.card_linkage_code, holder) from exc
                if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                    raise VersionConflict(pk) from exc
            raise _driver(exc) from exc

    # ---- lines -----------------------------------------------------------------------------
    def _line_item(self, stored: StoredLine) -> dict[str, Any]:
        record = stored.record
        line = record.line
        item: dict[str, Any] = {
            "pk": _s(line_pk(stored.tenant_id, line.line_id)),
            "sk": _s(f"LINE#{line.line_id}"),
            "doc": _s(record.model_dump_json()),
            "version": _n(stored.version),
            "gsi1sk": _s(f"{line.usage_date.isoformat()}#{line.line_id}"),
        }
        if record.employee_code is None:
            item["gsi1pk"] = _s(f"TENANT#{stored.tenant_id}#CARDERRORS")
        else:
            item["gsi1pk"] = _s(f"TENANT#{stored.tenant_id}#EMPLOYEE#{record.employee_code}")
        if stored.refund is not None:
            item["refund"] = _s(stored.refund.model_dump_json())
        if stored.changed_by is not None:
            item["changed_by"] = _s(stored.changed_by)
        return item

    @staticmethod
    def _stored(tenant_id: str, item: dict[str, Any]) -> StoredLine:
        return StoredLine(
            tenant_id=tenant_id,
            record=LineRecord.model_validate_json(item["doc"]["S"]),
            refund=RefundLink.model_validate_json(item["refund"]["S"]) if "refund" in item else None,
            version=int(item["version"]["N"]),
            changed_by=item["changed_by"]["S"] if "changed_by" in item else None,
        )

    @staticmethod
    def _date_item(tenant_id: str, line: StatementLine) -> dict[str, Any]:
        return {
            "pk": _s(line_pk(tenant_id, line.line_id)),
            "sk": _s(line_date_sk(line)),
            "card": _s(card_tag(line)),
        }

    @classmethod
    def _pointer_items(cls, tenant_id: str, line: StatementLine) -> list[dict[str, Any]]:
        """The line's date pointer, and its refund pointer when it is a refund."""
        pointer = cls._date_item(tenant_id, line)
        if line.amount >= 0:
            return [pointer]
        return [pointer, {**pointer, "sk": _s(f"REFUND#{line.usage_date.isoformat()}#{line.line_id}")}]

    def add_line(self, tenant_id: str, record: LineRecord) -> bool:
        """Store a new line and its date pointer in one transaction; False when the same line (card
        company + identity) is already stored."""
        item = self._line_item(StoredLine(tenant_id=tenant_id, record=record))
        items: list[dict[str, Any]] = [
            {"Put": {"TableName": _table(), "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            *(
                {"Put": {"TableName": _table(), "Item": p}}
                for p in self._pointer_items(tenant_id, record.line)
            ),
        ]
        try:
            aws.dynamodb().transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if _code(exc) == "TransactionCanceledException" and reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            raise _driver(exc) from exc
        return True

    def add_lines(self, tenant_id: str, records: Sequence[LineRecord]) -> list[bool]:
        """Store new lines (distinct identities); for each, False when it was already stored.

        With the batch writer: one BatchGetItem per 100 identities finds the stored ones; the
        others' date pointers and then the lines themselves are written 25 to a BatchWriteItem.
        Two runs writing the same new line at once both write the same freshly matched record
        (only one run is scheduled at a time).
        """
        writer = self.writer
        if writer is None:
            return [self.add_line(tenant_id, record) for record in records]
        items = [self._line_item(StoredLine(tenant_id=tenant_id, record=record)) for record in records]
        keys = [{"pk": item["pk"], "sk": item["sk"]} for item in items]
        stored = {found["sk"]["S"] for found in _guard(lambda: writer.get_all(keys, "sk"))}
        new = [item["sk"]["S"] not in stored for item in items]
        fresh = [(item, record) for item, record, is_new in zip(items, records, new, strict=True) if is_new]
        pointers = [p for _, record in fresh for p in self._pointer_items(tenant_id, record.line)]
        _guard(lambda: writer.put_all(pointers))
        _guard(lambda: writer.put_all([item for item, _ in fresh]))
        return new

    def save_line(self, stored: StoredLine) -> StoredLine:
        """Replace a line if nobody changed it since it was read (``VersionConflict`` otherwise)."""
        updated = stored.model_copy(update={"version": stored.version + 1})
        try:
            aws.dynamodb().put_item(
                TableName=_table(),
                Item=self._line_item(updated),
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": _n(stored.version)},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise VersionConflict(stored.record.line.line_id) from exc
            raise _driver(exc) from exc
        return updated

    def get_line(self, tenant_id: str, line_id: str) -> StoredLine | None:
        item = self._get(line_pk(tenant_id, line_id), f"LINE#{line_id}")
        return self._stored(tenant_id, item) if item else None

    def lines(self, tenant_id: str, *, since: date, until: date) -> list[StoredLine]:
        """The tenant's lines used from ``since`` to ``until`` (both included), by line identity.

        One range query of date pointers per shard, then BatchGetItem of the lines (100 a call).
        """
        return self._fetch(
            tenant_id, [line_id for line_id, _, _ in self._pointers(tenant_id, "DATE", since, until)]
        )

    def refund_lines(
        self, tenant_id: str, *, since: date, until: date, window: timedelta
    ) -> list[StoredLine]:
        """What refund linking needs of ``since``..``until``: the refunds, and the purchases on their
        cards (by ``card_tag``) used from ``window`` before the first refund to the last one.

        Refund pointers first (one range query per shard); none, and nothing else is read. Then the
        date pointers of that range, projected to key and card tag and kept only when the card is a
        refund's: memory holds the lines fetched, not the window's.
        """
        refunds = list(self._pointers(tenant_id, "REFUND", since, until))
        if not refunds:
            return []
        cards = {card for _, _, card in refunds}
        wanted = {line_id for line_id, _, _ in refunds}
        first = max(since, min(day for _, day, _ in refunds) - window)
        last = max(day for _, day, _ in refunds)
        for line_id, _, card in self._pointers(tenant_id, "DATE", first, last):
            if card is None or card in cards:  # a pointer from before card tags: fetched to be safe
                wanted.add(line_id)
        return self._fetch(tenant_id, sorted(wanted))

    def _pointers(
        self, tenant_id: str, kind: str, since: date, until: date
    ) -> Iterator[tuple[str, date, str | None]]:
        """``(line id, usage date, card tag)`` of the ``kind`` pointers (``DATE``/``REFUND``) in the range."""
        for shard in range(LINE_SHARDS):
            kwargs: dict[str, Any] = {
                "TableName": _table(),
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
                "ExpressionAttributeValues": {
                    ":pk": _s(_shard_pk(tenant_id, shard)),
                    ":from": _s(f"{kind}#{since.isoformat()}#"),
                    ":to": _s(f"{kind}#{until.isoformat()}$"),  # "$" sorts right after "#"
                },
                "ProjectionExpression": "sk, #card",
                "ExpressionAttributeNames": {"#card": "card"},
                "ConsistentRead": True,
            }
            for item in query_items(kwargs):
                _, day, line_id = item["sk"]["S"].split("#", 2)
                yield line_id, date.fromisoformat(day), item["card"]["S"] if "card" in item else None

    def _fetch(self, tenant_id: str, line_ids: Sequence[str]) -> list[StoredLine]:
        """The stored lines of ``line_ids`` (BatchGetItem, 100 a call), by identity; missing ones skipped."""
        keys = [{"pk": _s(line_pk(tenant_id, line_id)), "sk": _s(f"LINE#{line_id}")} for line_id in line_ids]
        reader = self.writer or batch_writer(parallelism=1)
        found = _guard(lambda: reader.get_all(keys, projection=None))
        return sorted((self._stored(tenant_id, item) for item in found), key=lambda s: s.record.line.line_id)

    def lines_on(self, tenant_id: str, day: date) -> list[StoredLine]:
        """The tenant's lines used on ``day``."""
        return self.lines(tenant_id, since=day, until=day)

    def error_lines(self, tenant_id: str) -> list[StoredLine]:
        return self._index_lines(tenant_id, f"TENANT#{tenant_id}#CARDERRORS")

    def employee_lines(self, tenant_id: str, employee_code: str) -> list[StoredLine]:
        return self._index_lines(tenant_id, f"TENANT#{tenant_id}#EMPLOYEE#{employee_code}")

    def _index_lines(self, tenant_id: str, gsi1pk: str) -> list[StoredLine]:
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(gsi1pk)},
        }
        return [self._stored(tenant_id, item) for item in query_items(kwargs)]

    # ---- runs, checkpoint, watermark ---------------------------------------------------------
    def watermark(self) -> datetime | None:
        item = self._get(SYNC_PK, "#WATERMARK", consistent=True)
        return datetime.fromisoformat(item["at"]["S"]) if item else None

    def advance_watermark(self, to: datetime) -> None:
        """Move the watermark forward only (a late or repeated run never moves it back)."""
        try:
            aws.dynamodb().put_item(
                TableName=_table(),
                Item={
                    "pk": _s(SYNC_PK),
                    "sk": _s("#WATERMARK"),
                    "at": _s(to.isoformat()),
                    "epoch": _n(int(to.timestamp() * 1_000_000)),
                },
                ConditionExpression="attribute_not_exists(pk) OR epoch < :new",
                ExpressionAttributeValues={":new": _n(int(to.timestamp() * 1_000_000))},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise _driver(exc) from exc

    def done_etag(self, key: str) -> str | None:
        """The ETag of a file a finished run already read (so an overlapping window skips it)."""
        item = self._get(SYNC_PK, f"FILE#{key}")
        return item["etag"]["S"] if item else None

    def mark_done(self, key: str, etag: str, at: datetime, keep_days: int = 35) -> None:
        self._put_sync(
            f"FILE#{key}",
            etag=_s(etag),
            done_at=_s(at.isoformat()),
            expires_at=_n(int(at.timestamp()) + keep_days * 86400),
        )

    def get_checkpoint(self, model: type[M]) -> M | None:
        item = self._get(SYNC_PK, "#CHECKPOINT", consistent=True)
        return model.model_validate_json(item["doc"]["S"]) if item else None

    def put_checkpoint(self, checkpoint: BaseModel) -> None:
        self._put_sync("#CHECKPOINT", doc=_s(checkpoint.model_dump_json()))

    def clear_checkpoint(self) -> None:
        _guard(
            lambda: aws.dynamodb().delete_item(
                TableName=_table(), Key={"pk": _s(SYNC_PK), "sk": _s("#CHECKPOINT")}
            )
        )

    def record_run(self, business_date: date, started_at: datetime, summary: BaseModel) -> None:
        sk = f"RUN#{business_date.isoformat()}#{started_at.isoformat()}"
        self._put_sync(sk, doc=_s(summary.model_dump_json()))

    def _put_sync(self, sk: str, **attributes: dict[str, str]) -> None:
        """An item of the sync's partition (a run, the checkpoint, a file read), written as it is."""
        item = {"pk": _s(SYNC_PK), "sk": _s(sk), **attributes}
        _guard(lambda: aws.dynamodb().put_item(TableName=_table(), Item=item))

    def runs(self, business_date: date | None = None) -> list[str]:
        """Recorded run summaries (JSON), oldest first; of one business date when given."""
        prefix = f"RUN#{business_date.isoformat()}#" if business_date else "RUN#"
        return [item["doc"]["S"] for item in self._query(SYNC_PK, prefix)]

    # ---- low level -------------------------------------------------------------------------
    def _get(self, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        response = _guard(
            lambda: aws.dynamodb().get_item(
                TableName=_table(), Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=consistent
            )
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query(self, pk: str, sk_prefix: str, **extra: Any) -> Iterator[dict[str, Any]]:
        values = {":pk": _s(pk), ":prefix": _s(sk_prefix), **extra.pop("ExpressionAttributeValues", {})}
        kwargs: dict[str, Any] = {
            "TableName": _table(),
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
            **extra,
        }
        return query_items(kwargs)


class FeedLocation(BaseModel):
    """A delivered statement file and whose it is, from its key ``feeds/{tenant}/{company}/…``."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    card_company: str
    file: DeliveredFile
    etag: str = ""
    size: int = 0


def feed_location(obj: dict[str, Any]) -> FeedLocation | None:
    """A listed object (``Key``, ``LastModified``, ``ETag``, ``Size``) as whose file it is; None for a
    key that does not name tenant, card company and file."""
    parts = obj["Key"].split("/")
    if len(parts) < 4 or not parts[1] or not parts[2] or not parts[-1]:
        return None
    return FeedLocation(
        tenant_id=parts[1],
        card_company=parts[2],
        file=DeliveredFile(key=obj["Key"], received_at=obj["LastModified"]),
        etag=obj.get("ETag", "").strip('"'),
        size=obj.get("Size", 0),
    )


class FeedFiles:
    """The feed bucket: delivered files listed with their arrival time (S3 ``LastModified``), streamed.

    Card companies deliver into date folders, ``feeds/{tenant}/{company}/{YYYY}/{MM}/{DD}/{name}``
    (the delivery day in Tokyo). S3 lists keys in order and can start after a key, so a run with a
    window lists only the folders from its first day on: the keys it reads grow with the window's
    files (plus one folder per tenant, company and year), not with every file ever delivered. Files
    directly under ``feeds/{tenant}/{company}/`` (the flat layout before date folders) and in other
    folders are still listed whole, so nothing delivered the old way is missed.
    """

    def __init__(self, bucket: str | None = None) -> None:
        self.bucket = bucket or settings().feed_bucket
        if not self.bucket:
            raise ValueError("FEED_BUCKET_NAME is not set")

    def delivered(self, tenant_id: str | None = None, *, since: datetime | None = None) -> list[FeedLocation]:
        """The files under ``feeds/`` (or one tenant's); keys not naming tenant and company are skipped.

        With ``since`` (a window's start), date folders before the day before its Tokyo date are not
        listed (the day before: a company may name the folder by its UTC day); the caller still
        takes files by arrival time. Without it (a first run), everything.
        """
        prefix = FEED_PREFIX if tenant_id is None else f"{FEED_PREFIX}{tenant_id}/"
        if since is None:
            return self._files(prefix)
        first = tokyo_date(since) - timedelta(days=1)
        found: list[FeedLocation] = []
        tenants = [prefix] if tenant_id is not None else self._level(prefix)[1]
        for tenant in tenants:
            for company in self._level(tenant)[1]:
                flat, folders = self._level(company)
                found += flat
                for folder in folders:
                    name = folder[len(company) : -1]
                    if not (len(name) == 4 and name.isdigit()):
                        found += self._files(folder)
                    elif int(name) == first.year:
                        found += self._files(folder, start_after=f"{folder}{first:%m/%d}")
                    elif int(name) > first.year:
                        found += self._files(folder)
        return found

    def _level(self, prefix: str) -> tuple[list[FeedLocation], list[str]]:
        """The files directly under ``prefix`` and its sub-folders (``Delimiter``)."""
        files: list[FeedLocation] = []
        folders: list[str] = []
        for page in self._pages(Prefix=prefix, Delimiter="/"):
            files += filter(None, map(feed_location, page.get("Contents", [])))
            folders += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        return files, folders

    def _files(self, prefix: str, *, start_after: str | None = None) -> list[FeedLocation]:
        extra = {"StartAfter": start_after} if start_after else {}
        return [
            location
            for page in self._pages(Prefix=prefix, **extra)
            for location in map(feed_location, page.get("Contents", []))
            if location is not None
        ]

    def _pages(self, **kwargs: Any) -> Iterator[Any]:
        paginator = aws.s3().get_paginator("list_objects_v2")
        try:
            yield from paginator.paginate(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            raise _driver(exc) from exc

    def open(self, key: str) -> ReadableBinary:
        """A streaming body: the file is read chunk by chunk, never whole."""
        try:
            body: ReadableBinary = aws.s3().get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            raise _driver(exc) from exc
        return body
