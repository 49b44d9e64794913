"""Expiry vs. capture vs. webhooks on one payment at once: the history stays one unbroken chain.

Every version of a payment has exactly one history entry (seq = version, 1..n with no gap), each
entry starts where the previous one ended, the last ends in the payment's status, and every write
that a writer was told succeeded is in it (a rollback never undoes someone else's commit).
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from cardops.kernel import clock
from cardops.kernel.calendar import tokyo_date
from cardops.payments.domain.payments import Applied, EventKind, PaymentMetadata, PaymentStatus
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases import capture
from cardops.payments.use_cases.payment_events import apply_canonical
from tests.integration.deadline.conftest import HoldInsideMoto, RecordingProvider, authorize, recording_deps


class _Recorder:
    """Collects every write a racer was told succeeded, and what each racer ended with."""

    def __init__(self) -> None:
        self.applied: list[Applied] = []
        self.ended: dict[str, str] = {}
        self._lock = threading.Lock()
        self.payments = _RecordingPayments(self)

    def saved(self, applied: Applied) -> None:
        with self._lock:
            self.applied.append(applied)

    def racer(self, name: str, body: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
                outcome = "ok"
            except Exception as exc:  # every racer's end is recorded; none may vanish silently
                outcome = type(exc).__name__
            with self._lock:
                self.ended[name] = outcome

        return run


class _RecordingPayments(PaymentRepository):
    """The payment store, noting each save that returned (the writer was told it succeeded)."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self._recorder = recorder

    def save(self, applied: Applied, *, expected_version: int) -> None:
        super().save(applied, expected_version=expected_version)
        self._recorder.saved(applied)


def _racers(
    provider: RecordingProvider, payment_id: str, deadline: datetime, recorder: _Recorder
) -> dict[str, Callable[[], None]]:
    deps = recording_deps(provider, recorder.payments)

    def webhook(event_id: str, metadata: PaymentMetadata | None = None) -> Callable[[], object]:
        def deliver() -> object:
            # a PAY.JP webhook: whatever it says, processing applies a re-fetch of the charge
            snapshot = provider.retrieve(payment_id)
            event = snapshot.as_event(
                provider="payjp", event_id=event_id, kind=EventKind.UPDATED, occurred_at=clock.now()
            )
            if metadata is not None:
                event = event.model_copy(update={"metadata": metadata})
            return apply_canonical(event, recorder.payments, now=clock.now())

        return deliver

    return {
        "expire": recorder.racer(
            "expire", lambda: capture.expire(deps, "payjp", payment_id, now=deadline + timedelta(seconds=1))
        ),
        "capture": recorder.racer(
            "capture",
            lambda: capture.capture(
                deps, "payjp", payment_id, amount=None, now=deadline - timedelta(seconds=1), actor="store"
            ),
        ),
        "webhook-1": recorder.racer("webhook-1", webhook(f"evt_a_{payment_id}")),
        "webhook-2": recorder.racer("webhook-2", webhook(f"evt_b_{payment_id}", PaymentMetadata(mcc="7011"))),
    }


def assert_one_unbroken_history(payment_id: str, recorder: _Recorder) -> None:
    found = PaymentRepository().get_with_history("payjp", payment_id)
    assert found is not None
    payment, history = found
    assert [entry.seq for entry in history] == list(range(1, payment.version + 1)), history
    assert history[0].from_status is None
    for before, after in itertools.pairwise(history):
        assert after.from_status == before.to_status, (before, after)
    assert history[-1].to_status == payment.status
    recorded = {(entry.seq, entry.event_id) for entry in history}
    acknowledged = {(a.history.seq, a.history.event_id) for a in recorder.applied}
    assert acknowledged <= recorded, (
        f"acknowledged writes missing from the history: {acknowledged - recorded}"
    )


def _authorized(provider: RecordingProvider, payment_id: str) -> datetime:
    authorize(
        provider, payment_id, visit_date=tokyo_date(clock.now()) + timedelta(days=10), start_workflow=False
    )
    stored = PaymentRepository().get("payjp", payment_id)
    assert stored is not None and stored.capture_deadline is not None
    return stored.capture_deadline


def test_expiry_capture_and_webhooks_racing_leave_one_unbroken_history(
    workflow: Any, provider: RecordingProvider
) -> None:
    for n in range(8):
        payment_id = f"ch_hist{n}"
        deadline = _authorized(provider, payment_id)
        recorder = _Recorder()
        racers = list(_racers(provider, payment_id, deadline, recorder).values())
        start = threading.Barrier(len(racers))

        def at_once(body: Callable[[], None], start: threading.Barrier = start) -> Callable[[], None]:
            def run() -> None:
                start.wait()
                body()

            return run

        threads = [threading.Thread(target=at_once(body)) for body in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert_one_unbroken_history(payment_id, recorder)
        payment = PaymentRepository().get("payjp", payment_id)
        assert payment is not None
        captured, released = provider.count("capture", payment_id), provider.count("cancel", payment_id)
        assert (captured, released) in {(1, 0), (0, 1)}, recorder.ended
        expected = PaymentStatus.CAPTURED if captured else PaymentStatus.EXPIRED_REFUNDED
        assert payment.status is expected, recorder.ended


def test_a_writer_rolled_back_while_another_commits_does_not_undo_that_commit(
    workflow: Any, provider: RecordingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gap of issue 17 made deterministic: a webhook's write is parked inside its transaction
    (after moto took its rollback copy) while the deadline's cancel commits; the webhook's write then
    conflicts and is rolled back — which must not take the committed cancel with it."""
    payment_id = "ch_hist_held"
    deadline = _authorized(provider, payment_id)
    recorder = _Recorder()
    racers = _racers(provider, payment_id, deadline, recorder)
    copies = 0

    def rollback_copy_taken(value: Any, *args: Any, **kwargs: Any) -> bool:
        # moto copies the table once per item of the transaction; the last copy is the rollback's
        nonlocal copies
        if type(value).__name__ == "Table" and threading.current_thread() is hold.thread:
            copies += 1
        return copies == 2

    hold = HoldInsideMoto(monkeypatch, copy, "deepcopy", rollback_copy_taken)
    hold.run(racers["webhook-2"], racers["expire"])

    assert recorder.ended == {"webhook-2": "ok", "expire": "ok"}
    assert_one_unbroken_history(payment_id, recorder)
    payment = PaymentRepository().get("payjp", payment_id)
    assert payment is not None
    assert payment.status is PaymentStatus.EXPIRED_REFUNDED and payment.metadata.mcc == "7011"
    assert provider.count("cancel", payment_id) == 1
