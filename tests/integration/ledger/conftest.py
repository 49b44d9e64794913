"""Fixtures for the ledger and refund tests: captured payments written as the processor writes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cardops.payments.domain.changes import Change
from cardops.payments.domain.payments import Applied, apply_event, new_payment
from cardops.payments.store.payments import PaymentRepository
from tests.builders import captured_event
from tests.helpers import drain_changes

CapturePayment = Callable[..., Applied]


def capture_payment(
    provider: str = "sandbox",
    payment_id: str = "pay_1",
    *,
    store_id: str = "store-1",
    amount: int = 10_000,
    captured_at: datetime | None = None,
    post_ledger: bool = True,
) -> Applied:
    """Write a captured payment through the processor's path (apply + conditional save), then let
    the change feed post it (``post_ledger=False`` leaves the change in the stream, undelivered)."""
    at = captured_at or datetime.now(UTC) - timedelta(days=2)
    event = captured_event(provider, payment_id, store_id=store_id, amount=amount, at=at)
    repo = PaymentRepository()
    current = repo.get(provider, payment_id) or new_payment(event)
    applied = apply_event(current, event, now=at)
    assert applied is not None
    repo.save(applied, expected_version=current.version)
    if post_ledger:
        drain_changes()
    return applied


def as_change(applied: Applied) -> Change:
    """The change the feed delivers for this write (the payment before and after it)."""
    before = None if applied.history.from_status is None else applied.payment  # only the new image matters
    return Change(old=before, new=applied.payment)


@pytest.fixture
def captured(provisioned: Any) -> CapturePayment:
    return capture_payment
