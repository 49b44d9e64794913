"""What happens after a payment changes: the listeners the processor calls after each write.

The capture-deadline workflow (SPEC §3) hooks in here; each listener must be idempotent, because a
redelivered message can call it again.
"""

from __future__ import annotations

from cardops.ledger.use_cases import ledger_listener
from cardops.payments.use_cases import capture
from cardops.payments.use_cases.capture import capture_deadline_listener
from cardops.payments.use_cases.payment_events import PaymentListener
from cardops.payments.use_cases.refunds import refund_listener


def payment_listeners() -> list[PaymentListener]:
    return [ledger_listener, refund_listener, capture_deadline_listener]


def capture_deps() -> capture.Deps:
    """The capture use cases wired to the real adapters, for the admin API and the workflow task."""
    from cardops.payments.store.claims import OutcomeClaims
    from cardops.payments.store.notifications import EventPublisher
    from cardops.payments.store.payment_notes import PaymentNoteStore
    from cardops.payments.store.payments import PaymentRepository, ReservationRepository
    from cardops.payments.use_cases.providers import provider_client

    return capture.Deps(
        payments=PaymentRepository(),
        claims=OutcomeClaims(),
        providers=provider_client,
        reservations=ReservationRepository(),
        events=EventPublisher(),
        listeners=payment_listeners(),
        notices=PaymentNoteStore(),
    )
