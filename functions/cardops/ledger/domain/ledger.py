"""The store balance ledger of SPEC §6: immutable entries per store and payment channel.

Each store has one ledger per payment channel (``standard`` = PAY.JP, ``extended`` = SBPS,
``stripe``) and currency. Entries are never edited or deleted: a mistake is undone by a ``reversal``
entry that points at the entry it cancels. The balance is the sum of the entries, nothing else.

Idempotency: every entry id is derived from the entry's *cause* (the capture, refund, payout,
adjustment … that produced it), so a retried posting produces the same id and ``Ledger.post`` skips
it. Persistence maps this one-to-one onto DynamoDB: put each new entry with
``attribute_not_exists(entry_id)`` and move the balance item in the same transaction, conditioned on
its version (``Ledger.version``), so concurrent writers can never make the balance drift.

Confirmed vs pending: each entry has ``effective_on``, the Asia/Tokyo business date from which it
counts toward the *confirmed* balance. Sales (and their fee) become confirmed on their confirmation
date; every debit (refund, adjustment, chargeback, payout, fees) is effective at once, so money on
its way out can never be paid out first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cardops.kernel.calendar import tokyo_date
from cardops.kernel.money import CurrencyError, normalize_currency


class Channel(StrEnum):
    """A store's payment channel; each has its own ledger and its own plan (SPEC §6)."""

    STANDARD = "standard"  # PAY.JP, the standard plan
    EXTENDED = "extended"  # SB Payment Service, the extended plan
    STRIPE = "stripe"  # Stripe, international cards


#: Which channel a provider's payments settle through. The sandbox provider stands in for PAY.JP.
PROVIDER_CHANNEL: dict[str, Channel] = {
    "payjp": Channel.STANDARD,
    "sbps": Channel.EXTENDED,
    "stripe": Channel.STRIPE,
    "sandbox": Channel.STANDARD,
}


class EntryKind(StrEnum):
    SALE = "sale"
    FEE = "fee"
    TRANSFER_FEE = "transfer_fee"
    MONTHLY_FEE = "monthly_fee"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    CHARGEBACK = "chargeback"
    PAYOUT = "payout"
    REVERSAL = "reversal"


class AdjustmentReason(StrEnum):
    """Why finance adjusted a balance by hand (the causes of a negative balance, seed 003)."""

    MULTI_CURRENCY_OVERCHARGE = "multi_currency_overcharge"  # 複数通貨での取引に起因した過剰請求
    TAX_RATE_CHANGE = "tax_rate_change"  # 該当予約の税率変更
    CANCELLATION_POLICY_MISMATCH = "cancellation_policy_mismatch"  # 異なるキャンセルポリシーでのキャンセル
    PAYMENT_METHOD_MIGRATION = "payment_method_migration"  # 新しい支払方法へ移行できなかった決済
    OTHER = "other"


class CauseKind(StrEnum):
    """What produced an entry; together with the cause id it names the entry."""

    CAPTURE = "capture"
    REFUND = "refund"
    PAYOUT = "payout"
    PROVIDER_PAYOUT = "provider_payout"
    MONTHLY_FEE = "monthly_fee"
    ADJUSTMENT = "adjustment"
    CHARGEBACK = "chargeback"


class Cause(BaseModel):
    """A reference to the business fact behind an entry (a payment capture, a refund, a payout …)."""

    model_config = ConfigDict(frozen=True)

    kind: CauseKind
    id: str = Field(min_length=1, max_length=400)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


# The sign each kind may carry. A ``fee`` is normally negative; a positive fee is a fee returned
# with a refund (when the plan returns fees). Adjustments and reversals go either way.
_SIGN: dict[EntryKind, str] = {
    EntryKind.SALE: "+",
    EntryKind.FEE: "±",
    EntryKind.TRANSFER_FEE: "-",
    EntryKind.MONTHLY_FEE: "-",
    EntryKind.REFUND: "-",
    EntryKind.ADJUSTMENT: "±",
    EntryKind.CHARGEBACK: "-",
    EntryKind.PAYOUT: "-",
    EntryKind.REVERSAL: "±",
}


class LedgerError(ValueError):
    """A ledger rule was broken; subclasses name which."""


class ConflictingEntryError(LedgerError):
    """An entry id is already posted with different content: a retry must repeat the same facts."""

    def __init__(self, entry_id: str) -> None:
        super().__init__(f"entry {entry_id} is already posted with different content")
        self.entry_id = entry_id


class WrongLedgerError(LedgerError):
    """An entry for another store, channel or currency was posted to this ledger."""


class NotReversibleError(LedgerError):
    """Reversals are not reversed again: post a new entry instead."""


class LedgerEntry(BaseModel):
    """One immutable line of a store's ledger; ``amount`` is signed, in minor units."""

    model_config = ConfigDict(frozen=True)

    entry_id: str = Field(min_length=1)
    store_id: str = Field(min_length=1)
    channel: Channel
    currency: str
    kind: EntryKind
    amount: int
    created_at: datetime
    effective_on: date
    cause: Cause
    reason: AdjustmentReason | None = None
    reverses: str | None = None
    memo: str = ""
    #: the admin (IAM caller ARN) whose request posted it; None for entries from provider events
    recorded_by: str | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        return value

    @model_validator(mode="after")
    def _rules(self) -> LedgerEntry:
        sign = _SIGN[self.kind]
        if self.amount == 0:
            raise ValueError("a ledger entry moves money: amount must not be zero")
        if sign == "+" and self.amount < 0:
            raise ValueError(f"a {self.kind.value} entry is a credit (positive)")
        if sign == "-" and self.amount > 0:
            raise ValueError(f"a {self.kind.value} entry is a debit (negative)")
        if (self.kind is EntryKind.ADJUSTMENT) != (self.reason is not None):
            raise ValueError("an adjustment, and only an adjustment, carries a reason code")
        if (self.kind is EntryKind.REVERSAL) != (self.reverses is not None):
            raise ValueError("a reversal, and only a reversal, names the entry it reverses")
        return self


def entry_id_for(store_id: str, channel: Channel, kind: EntryKind, cause: Cause) -> str:
    """The deterministic id of the ``kind`` entry produced by ``cause`` (one per kind and cause)."""
    return f"{store_id}|{channel.value}|{kind.value}|{cause}"


def cause_entry_ids(store_id: str, channel: Channel, cause: Cause) -> tuple[str, ...]:
    """Every id an entry of ``cause`` (and its reversal) can have: its entries looked up by key."""
    ids = tuple(entry_id_for(store_id, channel, kind, cause) for kind in EntryKind)
    return ids + tuple(f"{entry_id}|reversal" for entry_id in ids)


def make_entry(
    *,
    store_id: str,
    channel: Channel,
    currency: str,
    kind: EntryKind,
    amount: int,
    cause: Cause,
    now: datetime,
    effective_on: date | None = None,
    reason: AdjustmentReason | None = None,
    memo: str = "",
) -> LedgerEntry:
    """An entry whose id follows from its cause; ``effective_on`` defaults to today in Tokyo."""
    return LedgerEntry(
        entry_id=entry_id_for(store_id, channel, kind, cause),
        store_id=store_id,
        channel=channel,
        currency=currency,
        kind=kind,
        amount=amount,
        created_at=now,
        effective_on=effective_on if effective_on is not None else tokyo_date(now),
        cause=cause,
        reason=reason,
        memo=memo,
    )


def reversal_of(entry: LedgerEntry, *, now: datetime, memo: str = "") -> LedgerEntry:
    """The entry that cancels ``entry``: same cause, opposite amount, effective at once.

    Its id is derived from the reversed entry, so an entry can be reversed at most once.
    """
    if entry.kind is EntryKind.REVERSAL:
        raise NotReversibleError(f"{entry.entry_id} is itself a reversal")
    return LedgerEntry(
        entry_id=f"{entry.entry_id}|reversal",
        store_id=entry.store_id,
        channel=entry.channel,
        currency=entry.currency,
        kind=EntryKind.REVERSAL,
        amount=-entry.amount,
        created_at=now,
        effective_on=tokyo_date(now),
        cause=entry.cause,
        reverses=entry.entry_id,
        memo=memo,
    )


def adjustment_entry(
    *,
    store_id: str,
    channel: Channel,
    currency: str,
    adjustment_id: str,
    amount: int,
    reason: AdjustmentReason,
    now: datetime,
    memo: str = "",
) -> LedgerEntry:
    """Finance's manual correction with a reason code; ``adjustment_id`` makes a retry harmless."""
    return make_entry(
        store_id=store_id,
        channel=channel,
        currency=currency,
        kind=EntryKind.ADJUSTMENT,
        amount=amount,
        cause=Cause(kind=CauseKind.ADJUSTMENT, id=adjustment_id),
        now=now,
        reason=reason,
        memo=memo,
    )


def chargeback_entry(
    *,
    store_id: str,
    channel: Channel,
    currency: str,
    provider_payment_id: str,
    dispute_id: str,
    amount: int,
    now: datetime,
) -> LedgerEntry:
    """A lost dispute takes the disputed amount back from the store (one entry per dispute)."""
    return make_entry(
        store_id=store_id,
        channel=channel,
        currency=currency,
        kind=EntryKind.CHARGEBACK,
        amount=-abs(amount),
        cause=Cause(kind=CauseKind.CHARGEBACK, id=f"{provider_payment_id}/{dispute_id}"),
        now=now,
    )


class Ledger(BaseModel):
    """One store's ledger for one channel and currency; an immutable value."""

    model_config = ConfigDict(frozen=True)

    store_id: str = Field(min_length=1)
    channel: Channel
    currency: str = "JPY"
    entries: tuple[LedgerEntry, ...] = ()

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @property
    def version(self) -> int:
        """The number of entries: the optimistic-lock version a persisted balance item carries."""
        return len(self.entries)

    @property
    def balance(self) -> int:
        return sum(e.amount for e in self.entries)

    def confirmed_balance(self, as_of: date) -> int:
        """What counts as confirmed on ``as_of`` (Tokyo date): entries effective on or before it."""
        return sum(e.amount for e in self.entries if e.effective_on <= as_of)

    def pending_balance(self, as_of: date) -> int:
        """Sales not yet confirmed on ``as_of``, net of their fees."""
        return sum(e.amount for e in self.entries if e.effective_on > as_of)

    def summary(self, as_of: date) -> BalanceSummary:
        """What the store and the admin CLI's ``balance`` show on ``as_of`` (a Tokyo date)."""
        return _summary(self, as_of)

    def get(self, entry_id: str) -> LedgerEntry | None:
        for entry in self.entries:
            if entry.entry_id == entry_id:
                return entry
        return None

    def is_reversed(self, entry_id: str) -> bool:
        return any(e.reverses == entry_id for e in self.entries)

    def open_entries_for(self, cause: Cause) -> tuple[LedgerEntry, ...]:
        """The entries of ``cause`` that are not reversals and not yet reversed."""
        return tuple(
            e
            for e in self.entries
            if e.cause == cause and e.kind is not EntryKind.REVERSAL and not self.is_reversed(e.entry_id)
        )

    def post(self, entries: Iterable[LedgerEntry]) -> Posting:
        """Append ``entries``; an entry already posted with the same content is skipped (a retry)."""
        known = {e.entry_id: e for e in self.entries}
        new: list[LedgerEntry] = []
        for entry in entries:
            self._check_belongs(entry)
            existing = known.get(entry.entry_id)
            if existing is not None:
                if not _same_facts(existing, entry):
                    raise ConflictingEntryError(entry.entry_id)
                continue
            if entry.reverses is not None:
                target = known.get(entry.reverses)
                if target is None:
                    raise LedgerError(f"{entry.entry_id} reverses {entry.reverses}, which is not posted")
                if target.amount != -entry.amount:
                    raise LedgerError(f"{entry.entry_id} does not cancel {entry.reverses} exactly")
            known[entry.entry_id] = entry
            new.append(entry)
        ledger = self.model_copy(update={"entries": self.entries + tuple(new)})
        return Posting(ledger=ledger, new_entries=tuple(new))

    def _check_belongs(self, entry: LedgerEntry) -> None:
        if entry.store_id != self.store_id or entry.channel != self.channel:
            raise WrongLedgerError(
                f"entry for {entry.store_id}/{entry.channel.value} "
                f"posted to {self.store_id}/{self.channel.value}"
            )
        if entry.currency != self.currency:
            raise CurrencyError(f"{entry.currency} entry posted to a {self.currency} ledger")


class LedgerTotals(BaseModel):
    """A ledger's running totals (its balance item) without its entries: what a balance or a payout
    decision needs, read in one call however long the ledger is.

    ``by_effective_day`` sums the entries per day they become confirmed, so the confirmed balance on
    any day is exact; it grows with the days money was posted for, not with the entries.
    """

    model_config = ConfigDict(frozen=True)

    store_id: str = Field(min_length=1)
    channel: Channel
    currency: str = "JPY"
    balance: int = 0
    #: the entry count: the optimistic-lock version, as ``Ledger.version``
    version: int = 0
    by_effective_day: dict[date, int] = Field(default_factory=dict)
    #: the entries' sums per Tokyo date they were posted (``created_at``): a statement's opening balance
    by_created_day: dict[date, int] = Field(default_factory=dict)
    #: only the entries a decision looked up by id (e.g. a payout request's own, when repeated)
    entries: tuple[LedgerEntry, ...] = ()

    def confirmed_balance(self, as_of: date) -> int:
        return self.balance - sum(amount for day, amount in self.by_effective_day.items() if day > as_of)

    def pending_balance(self, as_of: date) -> int:
        return self.balance - self.confirmed_balance(as_of)

    def balance_posted_before(self, day: date) -> int:
        """The sum of the entries posted before ``day`` (Tokyo): a statement from ``day`` opens at it."""
        return sum(amount for posted, amount in self.by_created_day.items() if posted < day)

    def summary(self, as_of: date) -> BalanceSummary:
        return _summary(self, as_of)

    @staticmethod
    def of(ledger: Ledger) -> LedgerTotals:
        """The totals a ledger's entries add up to (what the balance item keeps)."""
        days: dict[date, int] = {}
        created: dict[date, int] = {}
        for entry in ledger.entries:
            days[entry.effective_on] = days.get(entry.effective_on, 0) + entry.amount
            posted = tokyo_date(entry.created_at)
            created[posted] = created.get(posted, 0) + entry.amount
        return LedgerTotals(
            store_id=ledger.store_id,
            channel=ledger.channel,
            currency=ledger.currency,
            balance=ledger.balance,
            version=ledger.version,
            by_effective_day=days,
            by_created_day=created,
        )


def _summary(ledger: Ledger | LedgerTotals, as_of: date) -> BalanceSummary:
    balance = ledger.balance
    confirmed = ledger.confirmed_balance(as_of)
    return BalanceSummary(
        store_id=ledger.store_id,
        channel=ledger.channel,
        currency=ledger.currency,
        as_of=as_of,
        balance=balance,
        confirmed=confirmed,
        pending=balance - confirmed,
        shortfall=max(-min(balance, confirmed), 0),
    )


class BalanceSummary(BaseModel):
    """A ledger's balance split into confirmed and pending; ``shortfall`` > 0 blocks payouts."""

    model_config = ConfigDict(frozen=True)

    store_id: str
    channel: Channel
    currency: str
    as_of: date
    balance: int
    confirmed: int
    pending: int
    shortfall: int


class Posting(BaseModel):
    """The result of posting: the new ledger and the entries that were actually new."""

    model_config = ConfigDict(frozen=True)

    ledger: Ledger
    new_entries: tuple[LedgerEntry, ...]


def _same_facts(a: LedgerEntry, b: LedgerEntry) -> bool:
    """Same entry apart from when and by whom it was built: a retry recomputes ``created_at``."""
    ignored = {"created_at", "effective_on", "recorded_by"}
    return a.model_dump(exclude=ignored) == b.model_dump(exclude=ignored)


def balance_of(entries: Sequence[LedgerEntry]) -> int:
    """The balance is the sum of the entries: the one definition, shared with persistence checks."""
    return sum(e.amount for e in entries)
