"""Issue 11 item 6: a lost version race retries after a jittered, bounded wait, never in a tight loop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cardops.kernel.backoff import Backoff
from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
from cardops.payments.domain.payments import Applied, CanonicalEvent, EventKind, Payment, PaymentFacts
from cardops.payments.use_cases.payment_events import apply_canonical

NOW = datetime(2026, 11, 1, tzinfo=UTC)


class ConflictingPayments:
    """Loses the version race ``conflicts`` times, then accepts the write."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.saves = 0
        self.saved: Applied | None = None

    def get(self, provider: str, payment_id: str) -> Payment | None:
        return None

    def save(self, applied: Applied, *, expected_version: int) -> None:
        self.saves += 1
        if self.saves <= self.conflicts:
            raise VersionConflict("another writer won")
        self.saved = applied


def authorized() -> CanonicalEvent:
    return CanonicalEvent(
        provider="stripe",
        provider_payment_id="pi_1",
        event_id="evt_1",
        kind=EventKind.AUTHORIZED,
        occurred_at=NOW,
        facts=PaymentFacts(currency="JPY", authorized_amount=1000, authorized_at=NOW),
    )


def test_each_conflict_waits_a_full_jitter_delay_that_grows_to_the_cap() -> None:
    sleeps: list[float] = []
    backoff = Backoff(attempts=6, base_seconds=0.1, cap_seconds=0.3, sleep=sleeps.append, uniform=lambda: 1.0)
    payments = ConflictingPayments(conflicts=4)

    applied = apply_canonical(authorized(), payments, now=NOW, backoff=backoff)

    assert applied is not None and payments.saved is applied
    assert payments.saves == 5
    assert sleeps == pytest.approx([0.1, 0.2, 0.3, 0.3])  # upper bounds: uniform() returned 1.0


def test_the_delay_is_random_below_the_bound() -> None:
    sleeps: list[float] = []
    draws = iter([0.5, 0.0, 0.25])
    backoff = Backoff(
        attempts=4, base_seconds=0.1, cap_seconds=1.0, sleep=sleeps.append, uniform=lambda: next(draws)
    )

    apply_canonical(authorized(), ConflictingPayments(conflicts=3), now=NOW, backoff=backoff)

    assert sleeps == pytest.approx([0.05, 0.0, 0.1])


def test_the_budget_is_bounded_and_then_the_store_is_reported_busy() -> None:
    sleeps: list[float] = []
    backoff = Backoff(attempts=3, sleep=sleeps.append)
    payments = ConflictingPayments(conflicts=10)

    with pytest.raises(StoreUnavailable, match="too many concurrent writers"):
        apply_canonical(authorized(), payments, now=NOW, backoff=backoff)

    assert payments.saves == 3
    assert len(sleeps) == 2
    assert sum(sleeps) <= backoff.max_total_seconds()


def test_the_default_budget_stays_well_under_a_second() -> None:
    from cardops.kernel.backoff import CONFLICTS

    assert CONFLICTS.attempts >= 3
    assert CONFLICTS.max_total_seconds() < 1.0


def test_no_conflict_means_no_sleep() -> None:
    sleeps: list[float] = []
    apply_canonical(
        authorized(), ConflictingPayments(conflicts=0), now=NOW, backoff=Backoff(sleep=sleeps.append)
    )
    assert sleeps == []
