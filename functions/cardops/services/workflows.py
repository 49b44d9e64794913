"""What happens after a payment changes: the listeners the processor calls after each write.

The capture-deadline workflow (SPEC §3) hooks in here; each listener must be idempotent, because a
redelivered message can call it again.
"""

from __future__ import annotations

from cardops.services.capture import capture_deadline_listener
from cardops.services.ledger import ledger_listener
from cardops.services.payment_events import PaymentListener
from cardops.services.refunds import refund_listener


def payment_listeners() -> list[PaymentListener]:
    return [ledger_listener, refund_listener, capture_deadline_listener]
