"""The small interface every payment-provider client implements, and its errors.

Clients turn the provider's answers into domain facts (``PaymentFacts``) so the rest of the system
never reads a provider's JSON shape. Every state-changing call takes an idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

from cardops.payments.domain.payments import (
    CanonicalEvent,
    EventKind,
    Payment,
    PaymentFacts,
    PaymentMetadata,
    Provider,
)

if TYPE_CHECKING:
    from cardops.kernel.secrets import WebhookSecrets
    from cardops.payments.domain.refunds import ProviderCapabilities


class ProviderError(Exception):
    """A provider call failed. ``transient`` says whether the same call may succeed on retry."""

    transient: bool = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class TransientProviderError(ProviderError):
    """Timeouts, connection failures, 429 and 5xx: retry with backoff and the same idempotency key."""

    transient = True


class ProviderNotConfigured(TransientProviderError):
    """The provider's API key is not written yet (a fresh stack): retried, and fine once it is set."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_configured")


class PermanentProviderError(ProviderError):
    """The provider refused the request (card declined, already refunded, invalid request)."""

    transient = False


class ProviderPayment(BaseModel):
    """A provider's current view of one payment, reduced to facts."""

    model_config = ConfigDict(frozen=True)

    provider_payment_id: str
    facts: PaymentFacts
    metadata: PaymentMetadata
    #: a reusable card/customer reference for a merchant-initiated charge (re-payment, SPEC §4)
    customer_id: str | None = None
    card_brand: str | None = None

    def as_event(
        self,
        *,
        provider: Provider,
        event_id: str,
        kind: EventKind,
        occurred_at: datetime,
        actor: str = "provider",
    ) -> CanonicalEvent:
        """What the provider says now, as an event to merge into the payment like any other."""
        return CanonicalEvent(
            provider=provider,
            provider_payment_id=self.provider_payment_id,
            event_id=event_id,
            kind=kind,
            occurred_at=occurred_at,
            facts=self.facts,
            metadata=self.metadata,
            actor=actor,
        )


class PaymentProvider(Protocol):
    name: str

    def retrieve(self, payment_id: str) -> ProviderPayment: ...

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> ProviderPayment: ...

    def cancel_authorization(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment: ...

    def refund(
        self, payment_id: str, *, amount: int, idempotency_key: str, reason: str | None = None
    ) -> ProviderPayment: ...


#: what cardops stored about a payment, by (provider, provider payment id): given to clients by
#: the use cases (a provider may need it: SBPS's API addresses payments by a tracking id)
PaymentLookup = Callable[[str, str], "Payment | None"]


class ProviderPlugin(Protocol):
    """Everything cardops knows about one provider, in one object (issue 14 item 2).

    The webhook intake calls ``verify`` (on the raw body, before parsing; it answers the event id),
    the processor ``to_canonical``, the use cases ``client(payments)``; ``capabilities`` says what the
    provider allows. Adding a provider is one folder with one such object, plus its registration.
    """

    name: str

    @property
    def capabilities(self) -> ProviderCapabilities: ...

    def verify(
        self, raw_body: bytes, header: Callable[[str], str | None], secrets: WebhookSecrets, *, now: float
    ) -> str: ...

    def event_id(self, raw_body: bytes) -> str: ...

    def to_canonical(self, raw_body: bytes) -> CanonicalEvent: ...

    def client(self, payments: PaymentLookup) -> PaymentProvider: ...
