"""Use cases of refunds and their corrections (SPEC §5), persisted atomically with the ledger.

A refund request is one transaction: the refund (``requested``), the refund ceiling taken down by
its amount (conditioned by DynamoDB on what remains, so concurrent requests cannot overshoot the
captured amount), and the store's ledger debited. It is then submitted to the provider with the
refund id as idempotency key: PAY.JP refunds synchronously, so success moves it to ``succeeded``; a
refusal means the card company rejected it, which reverses it (ledger back, ceiling back) and alerts
finance. A transient failure leaves it ``requested``: repeating the request with the same
idempotency key resumes the submission, and never creates a second refund.

Every correction is a transaction of the refund's new version (conditioned on the version read), the
reversal entries, and the ceiling given back when the refund stops counting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from cardops.kernel.backoff import CONFLICTS, Backoff
from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
from cardops.kernel.observability import make_logger
from cardops.ledger.domain.fees import PlansConfig
from cardops.ledger.domain.ledger import PROVIDER_CHANNEL, Cause, Channel, Ledger, LedgerEntry
from cardops.ledger.use_cases import CeilingExceeded, DuplicateEntry
from cardops.payments.domain.payments import Payment
from cardops.payments.domain.provider_refunds import provider_level, record_provider_refund
from cardops.payments.domain.refunds import (
    DebitMemo,
    FinanceAlert,
    ProviderCapabilities,
    Refund,
    RefundChange,
    RefundCommand,
    RefundExceedsCapturedError,
    RefundReason,
    RefundStatus,
    RefundTarget,
    cancel_refund,
    change_refund_amount,
    issue_debit_memo,
    mark_refund_rejected,
    mark_refund_succeeded,
    request_refund,
    reverse_submitted_refund,
    submit_refund,
)
from cardops.payments.providers import registry
from cardops.payments.providers.base import PaymentProvider, PermanentProviderError, ProviderError

logger = make_logger("cardops-refunds")


class PaymentNotFoundError(LookupError):
    def __init__(self, provider: str, payment_id: str) -> None:
        super().__init__(f"payment {provider}/{payment_id} not found")


class RefundNotFoundError(LookupError):
    def __init__(self, refund_id: str) -> None:
        super().__init__(f"no refund {refund_id} on this payment")


class RefundSubmissionPendingError(Exception):
    """The provider could not be reached: the refund stays ``requested``; repeat with the same key."""

    def __init__(self, refund: Refund, cause: ProviderError) -> None:
        super().__init__(
            f"refund {refund.refund_id} is recorded but the provider did not answer ({cause}); "
            "repeat the request with the same idempotency key to submit it"
        )
        self.refund = refund
        #: the key to repeat the request with (set by the caller that knows it)
        self.idempotency_key: str | None = None


class UnexplainedRefundError(Exception):
    """The provider refunded more than the refund ceiling allows: cardops cannot decide which refund
    record is wrong, so nothing is recorded and the reconciliation reports it."""

    def __init__(self, payment: Payment, amount: int) -> None:
        super().__init__(
            f"{payment.provider}/{payment.provider_payment_id}: the provider reports {amount} refunded "
            "beyond cardops' refunds, more than may still be refunded"
        )
        self.amount = amount


class ProviderLookup(Protocol):
    def get(self, name: str) -> PaymentProvider | None: ...


class PaymentLookup(Protocol):
    def get(self, provider: str, payment_id: str) -> Payment | None: ...


class RefundBook(Protocol):
    """The money side of refunds, which the ledger owns (``ledger.use_cases.RefundBook``): each
    ``record_*`` is one transaction of refund, ceiling and ledger entries."""

    def of_payment(self, provider: str, payment_id: str) -> list[Refund]: ...

    def get(self, provider: str, payment_id: str, refund_id: str) -> Refund | None: ...

    def remaining(self, provider: str, payment_id: str) -> int | None: ...

    def debit_memos(self, provider: str, payment_id: str) -> list[DebitMemo]: ...

    def requested_before(self, cutoff: datetime) -> Iterator[Refund]: ...

    def ledger(self, store_id: str, channel: Channel, currency: str, *, cause: Cause) -> Ledger:
        """The ledger's entries of ``cause`` and their reversals (what correcting a refund needs)."""
        ...

    def record_request(self, refund: Refund, entries: Sequence[LedgerEntry], *, captured: int) -> None: ...

    def record_amendment(
        self,
        old: Refund,
        created: Refund,
        entries: Sequence[LedgerEntry],
        *,
        read_version: int,
        captured: int,
    ) -> None: ...

    def record_change(
        self,
        read: Refund,
        updated: Refund,
        entries: Sequence[LedgerEntry],
        alerts: Sequence[FinanceAlert],
        *,
        release: int = 0,
    ) -> None: ...

    def record_provider_refund(
        self,
        refund: Refund,
        entries: Sequence[LedgerEntry],
        alerts: Sequence[FinanceAlert],
        *,
        captured: int,
        level_read: int,
    ) -> None: ...

    def record_debit_memo(self, memo: DebitMemo) -> None: ...


class RefundService:
    """Built by ``payments.wiring.refund_service`` (tests: ``tests/builders.py`` on the fakes)."""

    def __init__(
        self,
        *,
        payments: PaymentLookup,
        refunds: RefundBook,
        providers: ProviderLookup | Mapping[str, PaymentProvider],
        plans: PlansConfig,
        publish: Callable[[Sequence[FinanceAlert]], None],
        capabilities: Callable[[str], ProviderCapabilities] = registry.capabilities,
        backoff: Backoff = CONFLICTS,
    ) -> None:
        self.backoff = backoff
        self.payments = payments
        self.refunds = refunds
        self.providers = providers
        self.plans = plans
        self.capabilities = capabilities
        self.publish = publish

    # -- reads ---------------------------------------------------------------------------------

    def target(self, provider: str, payment_id: str) -> RefundTarget:
        payment = self.payments.get(provider, payment_id)
        if payment is None:
            raise PaymentNotFoundError(provider, payment_id)
        return RefundTarget.from_payment(payment)

    def of_payment(self, provider: str, payment_id: str) -> list[Refund]:
        if self.payments.get(provider, payment_id) is None:
            raise PaymentNotFoundError(provider, payment_id)
        return self.refunds.of_payment(provider, payment_id)

    def get(self, provider: str, payment_id: str, refund_id: str) -> Refund:
        refund = self.refunds.get(provider, payment_id, refund_id)
        if refund is None:
            raise RefundNotFoundError(refund_id)
        return refund

    # -- request and submission ----------------------------------------------------------------

    def request(
        self,
        provider: str,
        payment_id: str,
        *,
        amount: int,
        reason: RefundReason,
        idempotency_key: str,
        now: datetime,
        actor: str,
        note: str = "",
    ) -> tuple[Refund, bool]:
        """Record and submit a refund; returns it and whether this call created it."""
        target = self.target(provider, payment_id)
        command = RefundCommand(
            amount=amount, reason=reason, idempotency_key=idempotency_key, note=note, actor=actor
        )
        plan = self.plans.for_channel(target.channel)
        for _ in self.backoff.tries():
            existing = self.refunds.of_payment(provider, payment_id)
            change = request_refund(target, existing, command, plan, now=now)
            if not change.changed:
                refund = change.refund
                if refund.amount != amount or refund.reason is not reason:
                    raise VersionConflict(f"idempotency key already used for refund {refund.refund_id}")
                return self._submit_if_requested(refund, now=now), False
            refund = change.refund
            try:
                self.refunds.record_request(refund, change.entries, captured=target.captured_amount)
            except CeilingExceeded as exc:
                remaining = exc.remaining if exc.remaining is not None else target.captured_amount
                raise RefundExceedsCapturedError(
                    requested=amount,
                    captured=target.captured_amount,
                    refunded=target.captured_amount - remaining,
                    currency=target.currency,
                ) from exc
            except (VersionConflict, DuplicateEntry):
                continue  # the same refund was just written by a concurrent duplicate: re-read it
            return self._submit_if_requested(refund, now=now), True
        raise StoreUnavailable(f"refund on {provider}/{payment_id} kept conflicting; retry")

    def resubmit(self, refund: Refund, *, now: datetime) -> Refund:
        """Hand a refund still ``requested`` to the provider again, with the same idempotency key
        (the stuck-refund sweep, ``provider_refunds.resubmit_stuck_refunds``)."""
        current = self.refunds.get(refund.provider, refund.provider_payment_id, refund.refund_id)
        return self._submit_if_requested(current or refund, now=now)

    def _submit_if_requested(self, refund: Refund, *, now: datetime) -> Refund:
        if refund.status is not RefundStatus.REQUESTED:
            return refund
        client = self.providers.get(refund.provider)
        if client is None:
            return refund
        try:
            answer = client.refund(
                refund.provider_payment_id,
                amount=refund.amount,
                idempotency_key=refund.refund_id,
                reason=refund.reason.value,
            )
        except PermanentProviderError as exc:
            submitted = submit_refund(refund, now=now).refund
            ledger = self._ledger_for(refund)
            detail = f"{exc.code or 'refused'}: {exc}"
            rejected = mark_refund_rejected(submitted, ledger, now=now, detail=detail)
            return self._apply(refund, rejected, ceiling_delta=refund.amount)
        except ProviderError as exc:
            raise RefundSubmissionPendingError(refund, exc) from exc
        handed = submit_refund(
            refund,
            now=now,
            provider_refund_id=answer.refund_id or f"{refund.provider_payment_id}:{refund.refund_id}",
        )
        succeeded = mark_refund_succeeded(handed.refund, now=now)
        return self._apply(refund, succeeded)

    # -- corrections ---------------------------------------------------------------------------

    def cancel(self, provider: str, payment_id: str, refund_id: str, *, now: datetime, actor: str) -> Refund:
        refund = self.get(provider, payment_id, refund_id)
        change = cancel_refund(refund, self._ledger_for(refund), now=now, actor=actor)
        return self._apply(refund, change, ceiling_delta=refund.amount)

    def reverse(self, provider: str, payment_id: str, refund_id: str, *, now: datetime, actor: str) -> Refund:
        refund = self.get(provider, payment_id, refund_id)
        capabilities = self.capabilities(provider)
        change = reverse_submitted_refund(
            refund, self._ledger_for(refund), capabilities, now=now, actor=actor
        )
        return self._apply(refund, change, ceiling_delta=refund.amount)

    def amend(
        self,
        provider: str,
        payment_id: str,
        refund_id: str,
        *,
        amount: int,
        now: datetime,
        actor: str,
    ) -> Refund:
        """Change the amount before submission: the old refund is reversed and a new one created."""
        refund = self.get(provider, payment_id, refund_id)
        target = self.target(provider, payment_id)
        existing = self.refunds.of_payment(provider, payment_id)
        change = change_refund_amount(
            refund,
            target,
            existing,
            amount,
            self._ledger_for(refund),
            self.plans.for_channel(target.channel),
            now=now,
            actor=actor,
        )
        if not change.changed:
            return change.refund
        old, created = change.changed
        try:
            self.refunds.record_amendment(
                old, created, change.entries, read_version=refund.version, captured=target.captured_amount
            )
        except CeilingExceeded as exc:
            remaining = exc.remaining if exc.remaining is not None else 0
            raise RefundExceedsCapturedError(
                requested=amount,
                captured=target.captured_amount,
                refunded=target.captured_amount - remaining - refund.amount,
                currency=target.currency,
            ) from exc
        except DuplicateEntry as exc:
            raise VersionConflict(refund.refund_id) from exc
        return self._submit_if_requested(created, now=now)

    def debit_memo(
        self,
        provider: str,
        payment_id: str,
        refund_id: str,
        *,
        now: datetime,
        amount: int | None,
        note: str,
        actor: str,
    ) -> DebitMemo:
        refund = self.get(provider, payment_id, refund_id)
        change = issue_debit_memo(refund, now=now, amount=amount, note=note, actor=actor)
        memo = change.debit_memo
        assert memo is not None  # issue_debit_memo always returns one or raises
        for existing in self.refunds.debit_memos(provider, payment_id):
            if existing.memo_id == memo.memo_id:
                return existing
        try:
            self.refunds.record_debit_memo(memo)
        except VersionConflict:
            return next(
                m for m in self.refunds.debit_memos(provider, payment_id) if m.memo_id == memo.memo_id
            )
        return memo

    def reject(self, provider: str, payment_id: str, refund_id: str, *, now: datetime, detail: str) -> Refund:
        """The card company returned a submitted or succeeded refund: reverse it, alert finance."""
        refund = self.get(provider, payment_id, refund_id)
        change = mark_refund_rejected(refund, self._ledger_for(refund), now=now, detail=detail)
        return self._apply(refund, change, ceiling_delta=refund.amount)

    # -- persistence of a change ---------------------------------------------------------------

    def _ledger_for(self, refund: Refund) -> Ledger:
        return self.refunds.ledger(refund.store_id, refund.channel, refund.currency, cause=refund.cause)

    def _apply(self, read: Refund, change: RefundChange, *, ceiling_delta: int = 0) -> Refund:
        """Write a refund's new version, its entries and alerts; the ceiling moves when it stops counting."""
        if not change.changed:
            return change.refund
        updated = change.refund
        stops_counting = read.counts_against_capture and not updated.counts_against_capture
        try:
            self.refunds.record_change(
                read, updated, change.entries, change.alerts, release=ceiling_delta if stops_counting else 0
            )
        except (VersionConflict, DuplicateEntry):
            current = self.refunds.get(read.provider, read.provider_payment_id, read.refund_id)
            if current is not None and current.status is updated.status:
                return current  # a concurrent retry made the same change
            raise VersionConflict(read.refund_id) from None
        if change.alerts:
            self.publish(change.alerts)
        return updated

    # -- provider webhooks ---------------------------------------------------------------------

    def sync_provider_refunds(self, payment: Payment, *, now: datetime) -> Refund | None:
        """Record what the provider refunded beyond every refund record (a refund made in its
        dashboard or console, ``payments.domain.provider_refunds``); ``None`` when nothing.

        One transaction: the refund (``source: provider``), the ceiling taken down under the
        provider-level condition (a run that read another total fails and re-reads), the ledger
        debit and the finance alert, which is then published like a rejected refund's.
        """
        channel = PROVIDER_CHANNEL.get(payment.provider)
        if channel is None or payment.facts.refunded_amount <= 0:
            return None  # nothing refunded at the provider: nothing to read
        plan = self.plans.for_channel(channel)
        seen: tuple[int, int] | None = None
        for _ in self.backoff.tries():
            existing = self.refunds.of_payment(payment.provider, payment.provider_payment_id)
            change = record_provider_refund(payment, existing, plan, now=now)
            if change is None:
                return None
            refund, level = change.refund, provider_level(existing)
            try:
                self.refunds.record_provider_refund(
                    refund,
                    change.entries,
                    change.alerts,
                    captured=payment.facts.captured_amount,
                    level_read=level,
                )
            except (VersionConflict, DuplicateEntry):
                if seen == (level, refund.amount):
                    # nothing else changed between two tries: it is the ceiling that refuses
                    raise UnexplainedRefundError(payment, refund.amount) from None
                seen = (level, refund.amount)
                continue
            logger.warning(
                "provider-side refund recorded",
                provider=payment.provider,
                payment_id=payment.provider_payment_id,
                refund_id=refund.refund_id,
                amount=refund.amount,
            )
            self.publish(change.alerts)
            return refund
        raise StoreUnavailable(f"provider refunds of {payment.provider_payment_id} kept conflicting; retry")

    def reconcile(self, payment: Payment, *, now: datetime) -> list[Refund]:
        """Our refunds as the provider now reports them (its plugin's ``refund_report``): submitted
        ones a running total covers have succeeded (PAY.JP); one the provider says failed or was
        canceled after it was submitted (Stripe) is rejected: ledger debit reversed, ceiling
        restored, finance alerted, as when the card company refuses it at once."""
        plugin = registry.find(payment.provider)
        if plugin is None:
            return []
        report = plugin.refund_report(payment.facts)
        if report.settled_total is None and not report.failed:
            return []
        refunds = self.refunds.of_payment(payment.provider, payment.provider_payment_id)
        changed: list[Refund] = []
        for refund in refunds:
            if refund.provider_refund_id in report.failed and refund.status in _REJECTABLE:
                detail = f"the provider reports refund {refund.provider_refund_id} failed or canceled"
                rejected = mark_refund_rejected(refund, self._ledger_for(refund), now=now, detail=detail)
                changed.append(self._apply(refund, rejected, ceiling_delta=refund.amount))
        if report.settled_total is not None:
            settled = sum(r.amount for r in refunds if r.status is RefundStatus.SUCCEEDED)
            for refund in refunds:
                if (
                    refund.status is RefundStatus.SUBMITTED
                    and settled + refund.amount <= report.settled_total
                ):
                    settled += refund.amount
                    changed.append(self._apply(refund, mark_refund_succeeded(refund, now=now)))
        return changed


#: a refund the provider may still report failed: handed to it, or already reported as done
_REJECTABLE = frozenset({RefundStatus.SUBMITTED, RefundStatus.SUCCEEDED})
