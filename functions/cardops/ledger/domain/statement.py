"""Statement pages (SPEC §6): a ledger read one page at a time, in time order, with running balances.

Entries are ordered by ``time_key``: the posting's ``created_at`` in UTC at a fixed width, then the
entry id (so equal times still have one order). A page is the next ``limit`` keys after the cursor
within the Tokyo dates asked for; its running balance starts from the balance item's per-day sums
(the balance before ``since``, or through ``until`` when reading newest first) and goes on from page
to page in the cursor, so no page sums the ledger before it.

The cursor is opaque to clients, not secret: it names its ledger, dates and order, the last key
read and the running balance there. A cursor that does not decode, or that was issued for another
ledger, other dates or the other order, is refused with ``InvalidCursor`` (a 400), never used; a key
outside the dates asked for is refused too (DynamoDB would reject it as a starting key).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from cardops.kernel.calendar import TOKYO
from cardops.ledger.domain.ledger import LedgerEntry

#: entries per page unless the caller asks for fewer; at most ``MAX_PAGE``
DEFAULT_PAGE = 100
MAX_PAGE = 1000
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#.{1,1000}$", re.DOTALL)
#: a running balance no ledger reaches (a cursor carrying more is not ours)
_MAX_BALANCE = 10**15


class InvalidCursor(ValueError):
    """A ``cursor`` this API did not issue for this ledger, these dates and this order."""


class Order(StrEnum):
    OLDEST_FIRST = "oldest_first"
    NEWEST_FIRST = "newest_first"


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_TIME_FORMAT)


def time_key(entry: LedgerEntry) -> str:
    """Where an entry sorts in its ledger's statement (a string that sorts as the time does)."""
    return f"{_instant(entry.created_at)}#{entry.entry_id}"


def _day_start(day: date) -> str:
    return _instant(datetime.combine(day, time(0), tzinfo=TOKYO))


@dataclass(frozen=True)
class KeyRange:
    """The keys of the entries created on the Tokyo dates ``since``..``until`` (inclusive bounds)."""

    low: str
    high: str

    @staticmethod
    def of(since: date | None, until: date | None) -> KeyRange:
        # every key starts with a four-digit year: "0" and "9" bound all of them
        low = _day_start(since) if since else "0"
        high = _day_start(until + timedelta(days=1)) if until else "9"
        return KeyRange(low=low, high=high)

    def __contains__(self, key: str) -> bool:
        return self.low <= key <= self.high


@dataclass(frozen=True)
class PageQuery:
    """Which page: up to ``limit`` entries with keys in ``keys`` after the key ``after``, in ``order``."""

    keys: KeyRange
    after: str | None
    limit: int
    order: Order


@dataclass(frozen=True)
class Position:
    """Where the previous page stopped: its last key and the running balance after it."""

    key: str
    balance: int


@dataclass(frozen=True)
class CursorScope:
    """What a cursor is valid for: one ledger, the dates asked for and the order."""

    ledger: str
    since: date | None
    until: date | None
    order: Order

    def _fields(self) -> dict[str, str | None]:
        return {
            "l": self.ledger,
            "s": self.since.isoformat() if self.since else None,
            "u": self.until.isoformat() if self.until else None,
            "o": self.order.value,
        }

    def encode(self, position: Position) -> str:
        raw = json.dumps({**self._fields(), "k": position.key, "b": position.balance}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> Position:
        """The position ``cursor`` names; ``InvalidCursor`` (with why) when it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidCursor("cursor is not one this API issued: pass next_cursor unchanged") from None
        if not isinstance(data, dict) or set(data) != {"l", "s", "u", "o", "k", "b"}:
            raise InvalidCursor("cursor is not one this API issued: pass next_cursor unchanged")
        if data["l"] != self.ledger:
            raise InvalidCursor("cursor belongs to another store, channel or currency")
        if {k: data[k] for k in ("s", "u", "o")} != {k: v for k, v in self._fields().items() if k != "l"}:
            raise InvalidCursor("cursor was issued for other dates or another order: repeat them with it")
        key, balance = data["k"], data["b"]
        if not isinstance(key, str) or not _KEY.match(key) or key not in KeyRange.of(self.since, self.until):
            raise InvalidCursor("cursor does not point into this statement")
        if type(balance) is not int or abs(balance) > _MAX_BALANCE:
            raise InvalidCursor("cursor does not carry a running balance")
        return Position(key=key, balance=balance)


def running_balances(entries: tuple[LedgerEntry, ...], *, order: Order, start: int) -> tuple[int, ...]:
    """The balance after each entry, in the page's order. ``start`` is the balance before the
    page's first entry when oldest first, after it when newest first (reading back in time)."""
    balances: list[int] = []
    running = start
    for entry in entries:
        if order is Order.OLDEST_FIRST:
            running += entry.amount
            balances.append(running)
        else:
            balances.append(running)
            running -= entry.amount
    return tuple(balances)
