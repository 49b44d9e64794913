"""Reconciliation of a store's ledger with its payments (SPEC §6, issue 11 item 2) — pure rules.

What the ledger must hold follows from the payments side alone:

- a captured amount → its sale and fee (cause ``capture``), open;
- each lost dispute → a chargeback of the captured amount (cause ``chargeback``), open;
- each refund that counts against the capture → its refund debit (cause ``refund``), open;
- each refund that stopped counting (canceled, rejected, reversed) → its entries reversed, or none.

Entry ids follow from their causes (``domain.ledger.entry_id_for``), so the expected entries are read
by key and a missing one is posted with the very id the late listener would use: a repair and a
listener that runs afterwards can never post the same money twice, and a second reconciliation finds
nothing to do. "Cannot decide" is an entry that exists with other facts than the payment implies (a
sale for another amount, a refund reversed while the refund still counts): it is reported and
alarmed, never overwritten — the ledger is immutable and a human decides the correction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from cardops.ledger.domain.fees import PlanConfig, capture_entries, refund_entries
from cardops.ledger.domain.ledger import (
    PROVIDER_CHANNEL,
    EntryKind,
    LedgerEntry,
    chargeback_entry,
    entry_id_for,
    reversal_of,
)
from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import Refund


def payment_entries(payment: Payment, plan: PlanConfig, *, at: datetime) -> tuple[LedgerEntry, ...]:
    """The ledger side of a payment's facts: its capture (sale + fee) and its lost disputes.

    The one definition: the posting listener and the reconciliation both use it, so they name and
    size every entry alike.
    """
    facts = payment.facts
    store_id = payment.metadata.store_id
    channel = PROVIDER_CHANNEL.get(payment.provider)
    if not store_id or channel is None or not facts.currency or facts.captured_amount <= 0:
        return ()
    entries = list(
        capture_entries(
            store_id=store_id,
            channel=channel,
            currency=facts.currency,
            provider=payment.provider,
            provider_payment_id=payment.provider_payment_id,
            amount=facts.captured_amount,
            plan=plan,
            captured_at=facts.captured_at or at,
        )
    )
    for dispute_id, state in sorted(facts.disputes.items()):
        if state == "lost":
            entries.append(
                chargeback_entry(
                    store_id=store_id,
                    channel=channel,
                    currency=facts.currency,
                    provider_payment_id=payment.provider_payment_id,
                    dispute_id=dispute_id,
                    amount=facts.captured_amount,
                    now=at,
                )
            )
    return tuple(entries)


class Finding(StrEnum):
    """What differs between a payment and the store's ledger."""

    MISSING = "missing"  # an entry the payment implies is not posted (repairable)
    NOT_REVERSED = "not_reversed"  # a refund stopped counting but its entries are open (repairable)
    MISMATCH = "mismatch"  # posted with other facts than the payment implies (cannot decide)
    REVERSED = "reversed"  # reversed although the payment still implies it (cannot decide)
    UNEXPLAINED_REFUND = "unexplained_refund"  # the provider refunded more than any refund record


class Difference(BaseModel):
    """One difference, in minor units of the entry's currency (signed as ledger amounts)."""

    model_config = ConfigDict(frozen=True)

    payment: str
    cause: str
    kind: str
    finding: Finding
    expected: int
    posted: int
    detail: str
    repaired: bool = False


class Amounts(BaseModel):
    """Captured, refunded and charged-back money, as the payments say or as the ledger holds it."""

    model_config = ConfigDict(frozen=True)

    captured: int = 0
    refunded: int = 0
    charged_back: int = 0

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(
            captured=self.captured + other.captured,
            refunded=self.refunded + other.refunded,
            charged_back=self.charged_back + other.charged_back,
        )


class PaymentReconciliation(BaseModel):
    model_config = ConfigDict(frozen=True)

    payment: str
    repairs: tuple[LedgerEntry, ...]
    differences: tuple[Difference, ...]
    payments_side: Amounts
    ledger_side: Amounts


def _refund_fee_id(refund: Refund) -> str:
    return entry_id_for(refund.store_id, refund.channel, EntryKind.FEE, refund.cause)


def _reversal_id(entry_id: str) -> str:
    return f"{entry_id}|reversal"


def probes(
    payment: Payment, refunds: Sequence[Refund], plan: PlanConfig, *, at: datetime
) -> list[LedgerEntry]:
    """The entries whose stored versions decide the payment's reconciliation (read by key).

    Each expected entry and its reversal; for refunds also the returned-fee entry whatever the plan
    says today (a plan may have returned fees when the refund was made).
    """
    wanted: list[LedgerEntry] = list(payment_entries(payment, plan, at=at))
    for refund in refunds:
        debit = _refund_debit(refund, plan, at=at)
        wanted.append(debit)
        fee = debit.model_copy(update={"entry_id": _refund_fee_id(refund), "kind": EntryKind.FEE})
        wanted.append(fee)
    return [*wanted, *(e.model_copy(update={"entry_id": _reversal_id(e.entry_id)}) for e in wanted)]


def _refund_debit(refund: Refund, plan: PlanConfig, *, at: datetime) -> LedgerEntry:
    return _refund_set(refund, plan, at=at)[0]


def _refund_set(refund: Refund, plan: PlanConfig, *, at: datetime) -> tuple[LedgerEntry, ...]:
    return refund_entries(
        store_id=refund.store_id,
        channel=refund.channel,
        currency=refund.currency,
        refund_id=refund.refund_id,
        amount=refund.amount,
        plan=plan,
        now=at,
    )


def check_payment(
    payment: Payment,
    refunds: Sequence[Refund],
    posted: Mapping[str, LedgerEntry],
    plan: PlanConfig,
    *,
    now: datetime,
) -> PaymentReconciliation:
    """Compare one payment (and its refunds) with the stored entries of its causes.

    ``posted`` maps entry id → stored entry for (at least) the ``probes`` of this payment.
    """
    name = f"{payment.provider}/{payment.provider_payment_id}"
    repairs: list[LedgerEntry] = []
    differences: list[Difference] = []

    def differ(want: LedgerEntry, finding: Finding, posted_amount: int, detail: str, repaired: bool) -> None:
        differences.append(
            Difference(
                payment=name,
                cause=str(want.cause),
                kind=want.kind.value,
                finding=finding,
                expected=want.amount if finding is not Finding.NOT_REVERSED else 0,
                posted=posted_amount,
                detail=detail,
                repaired=repaired,
            )
        )

    def reversed_(entry_id: str) -> bool:
        return _reversal_id(entry_id) in posted

    for want in payment_entries(payment, plan, at=now):
        have = posted.get(want.entry_id)
        if have is None:
            repairs.append(want)
            differ(want, Finding.MISSING, 0, f"{want.kind.value} not posted", True)
        elif have.amount != want.amount:
            differ(want, Finding.MISMATCH, have.amount, f"{want.kind.value} posted for another amount", False)
        elif reversed_(have.entry_id):
            differ(want, Finding.REVERSED, 0, f"{want.kind.value} reversed but still owed", False)
    for refund in refunds:
        wanted = _refund_set(refund, plan, at=now)
        debit = wanted[0]
        have = posted.get(debit.entry_id)
        if refund.counts_against_capture:
            if have is None:
                repairs.extend(wanted)
                differ(debit, Finding.MISSING, 0, f"refund {refund.status.value} not debited", True)
            elif have.amount != debit.amount:
                differ(debit, Finding.MISMATCH, have.amount, "refund debited for another amount", False)
            elif reversed_(have.entry_id):
                differ(
                    debit, Finding.REVERSED, 0, f"refund {refund.status.value} but its debit reversed", False
                )
            continue
        still_open = [
            stored
            for entry_id in (debit.entry_id, _refund_fee_id(refund))
            if (stored := posted.get(entry_id)) is not None and not reversed_(entry_id)
        ]
        if still_open:
            repairs.extend(
                reversal_of(e, now=now, memo=f"reconciled: refund {refund.status.value}") for e in still_open
            )
            differ(
                debit, Finding.NOT_REVERSED, debit.amount, f"refund {refund.status.value}, debit open", True
            )
    after = {**posted, **{e.entry_id: e for e in repairs}}
    return PaymentReconciliation(
        payment=name,
        repairs=tuple(repairs),
        differences=tuple(differences),
        payments_side=payments_amounts(payment, refunds),
        ledger_side=ledger_amounts(after.values()),
    )


def payments_amounts(payment: Payment, refunds: Iterable[Refund]) -> Amounts:
    """What the payments side says: captured, refunds that count, and lost disputes."""
    facts = payment.facts
    if not payment.metadata.store_id or payment.provider not in PROVIDER_CHANNEL or not facts.currency:
        return Amounts()
    lost = sum(1 for state in facts.disputes.values() if state == "lost")
    return Amounts(
        captured=facts.captured_amount,
        refunded=sum(r.amount for r in refunds if r.counts_against_capture),
        charged_back=facts.captured_amount * lost if facts.captured_amount > 0 else 0,
    )


_AMOUNT_OF: dict[EntryKind, str] = {
    EntryKind.SALE: "captured",
    EntryKind.REFUND: "refunded",
    EntryKind.CHARGEBACK: "charged_back",
}


def ledger_amounts(entries: Iterable[LedgerEntry]) -> Amounts:
    """What the ledger holds of the same: sales, refund debits and chargebacks net of reversals."""
    by_id = {e.entry_id: e for e in entries}
    sums = {"captured": 0, "refunded": 0, "charged_back": 0}
    for entry in by_id.values():
        kind = entry.kind
        if kind is EntryKind.REVERSAL and entry.reverses in by_id:
            kind = by_id[entry.reverses].kind
        field = _AMOUNT_OF.get(kind)
        if field is not None:
            # debits count as positive refunded / charged-back amounts
            sums[field] += entry.amount if field == "captured" else -entry.amount
    return Amounts(**sums)


class StoreReconciliation(BaseModel):
    """A store's reconciliation: the payments checked, both sides' sums, what differed."""

    model_config = ConfigDict(frozen=True)

    store_id: str
    checked_payments: int
    payments_side: Amounts
    ledger_side: Amounts
    repaired_entries: int
    differences: tuple[Difference, ...]

    @property
    def unresolved(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if not d.repaired)


def summarize(
    store_id: str, results: Sequence[PaymentReconciliation], *, repaired_entries: int
) -> StoreReconciliation:
    total_payments, total_ledger = Amounts(), Amounts()
    differences: list[Difference] = []
    for result in results:
        total_payments += result.payments_side
        total_ledger += result.ledger_side
        differences.extend(result.differences)
    return StoreReconciliation(
        store_id=store_id,
        checked_payments=len(results),
        payments_side=total_payments,
        ledger_side=total_ledger,
        repaired_entries=repaired_entries,
        differences=tuple(differences),
    )
