"""A change of one payment, as the durable change feed delivers it (the table's stream).

The feed hands every listener the payment before and after one write, whoever made it (the
processor, the janitor, the admin API, a workflow step), at least once and possibly more than
once: a listener decides from these two values alone and is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cardops.payments.domain.payments import Payment, PaymentStatus


@dataclass(frozen=True)
class Change:
    #: None when the write created the payment
    old: Payment | None
    new: Payment

    @property
    def from_status(self) -> PaymentStatus | None:
        return self.old.status if self.old is not None else None

    @property
    def at(self) -> datetime:
        """When the change was made (the payment's ``updated_at``, its history entry's time)."""
        return self.new.updated_at

    @property
    def key(self) -> str:
        return f"{self.new.provider}/{self.new.provider_payment_id}@{self.new.version}"
