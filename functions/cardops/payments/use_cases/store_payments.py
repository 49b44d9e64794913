"""What other slices may read of the payments by store: the ledger's reconciliation reads the
payments that captured money, and the stores that have any, through here (never the store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from cardops.payments.domain.payments import Payment


class PaymentsOfStore(Protocol):
    def stores(self) -> Iterator[str]: ...

    def captured(self, store_id: str, *, changed_since: datetime | None = None) -> Iterator[Payment]: ...


class PaymentsByStore:
    """Paged index reads (``gsi1``), never a scan."""

    def __init__(self, store: PaymentsOfStore) -> None:
        self.store = store

    def stores(self) -> Iterator[str]:
        return self.store.stores()

    def captured(self, store_id: str, *, changed_since: datetime | None = None) -> Iterator[Payment]:
        return self.store.captured(store_id, changed_since=changed_since)
