"""The small interfaces every payment provider implements, and their errors.

``PaymentProvider`` is the API client: it turns the provider's answers into domain facts
(``PaymentFacts``) so the rest of the system never reads a provider's JSON shape; every
state-changing call takes an idempotency key. ``ProviderPlugin`` is a whole provider in one object
(one folder, ``providers/{name}/``): how its webhooks are verified and named, how they become one
canonical event, its API client, and what its API allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

from cardops.kernel.money import ImplausibleAmount, plausible_amount
from cardops.payments.domain.payments import (
    CanonicalEvent,
    EventKind,
    Payment,
    PaymentFacts,
    PaymentMetadata,
    Provider,
)
from cardops.payments.domain.webhook_signatures import MalformedWebhook
from cardops.payments.domain.webhook_signatures import json_event_id as json_event_id

if TYPE_CHECKING:
    from cardops.kernel.secrets import WebhookSecrets
    from cardops.payments.domain.capture_deadline import AuthorizationHold
    from cardops.payments.domain.refunds import ProviderCapabilities, RefundReport
    from cardops.payments.providers.recharge import Recharger


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
    #: the provider's own id of the refund a ``refund`` call made, where it names refunds (Stripe):
    #: the refund is recorded under it, so a later failure of that refund finds it
    refund_id: str | None = None

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

#: a request header by name (case-insensitive), ``None`` when absent
Header = Callable[[str], str | None]


class UnsupportedProviderEvent(Exception):
    """A well-formed, authentic event of a type cardops does not act on: acknowledged, dropped."""


@dataclass(frozen=True)
class EventContext:
    """What a provider whose webhooks carry no facts needs to read them (PAY.JP re-fetches the
    charge an event names): the processor's clock and its API client, built on first use."""

    now: datetime
    client: Callable[[], PaymentProvider]


def provider_amount(amount: int, provider: str) -> int:
    """``amount`` as a provider reported it, refused by name beyond JPY's plausible range (the one
    check, ``kernel.money.plausible_amount``, as a ``MalformedWebhook`` every parser raises)."""
    try:
        return plausible_amount(amount)
    except ImplausibleAmount as exc:
        raise MalformedWebhook(f"{provider} {exc}") from None


class ProviderPlugin(Protocol):
    """One payment provider, whole: webhook verification, event naming and mapping, API client.

    ``verify`` and ``event_id`` run in the webhook function (answer fast: no API client, no SDK
    import); ``to_canonical`` in the processor; ``client`` wherever the provider's API is called
    (built lazily, so only those functions import the provider's SDK). ``client`` takes the use
    cases' view of stored payments (``PaymentLookup``) for a provider whose API needs what cardops
    stored (SBPS addresses a payment by the tracking id its notification carried): such a plugin
    says so (``reads_stored_payments``) and the registry builds no client of it without one; the
    others ignore it. One folder (``providers/{name}/``, its ``PLUGIN``) and one line in
    ``registry.BUILT_IN`` make a provider: nothing outside ``providers/`` tells them apart by name.
    """

    @property
    def name(self) -> str:
        """The provider's name in routes, keys and settings (``/webhooks/{name}``)."""
        ...

    @property
    def capabilities(self) -> ProviderCapabilities:
        """What its API allows (refund reversal, …)."""
        ...

    @property
    def authorization_hold(self) -> AuthorizationHold:
        """How long its authorizations hold when it does not report the lapse (SPEC §3)."""
        ...

    @property
    def reads_stored_payments(self) -> bool:
        """Whether ``client`` needs the stored payments (SBPS addresses payments by tracking id)."""
        ...

    def webhook_secrets(self, secrets: WebhookSecrets) -> list[str]:
        """The values a webhook may be verified with (current and previous, for rotation)."""
        ...

    def verify(self, raw_body: bytes, header: Header, secrets: Sequence[str], *, now: float) -> None:
        """Raise ``SignatureError`` (401) or ``MalformedWebhook`` (400); ``now`` is the wall clock."""
        ...

    def event_id(self, raw_body: bytes) -> str:
        """The provider's id of a verified event (webhooks are stored once per provider and id)."""
        ...

    def to_canonical(self, raw_body: bytes, context: EventContext | None = None) -> CanonicalEvent:
        """One canonical event; ``UnsupportedProviderEvent`` or ``MalformedWebhook`` otherwise.
        ``context`` is given by the processor; only a provider that re-fetches needs it."""
        ...

    def client(self, payments: PaymentLookup | None = None) -> PaymentProvider:
        """The API client (raises ``ProviderNotConfigured`` while its API key is not set)."""
        ...

    def recharger(self, payments: PaymentLookup | None = None) -> Recharger | None:
        """What charges a saved card again (SPEC §4 re-payment); ``None`` where the API cannot.
        ``payments`` as for ``client`` (SBPS finds the original's customer id in it)."""
        ...

    def refund_report(self, facts: PaymentFacts) -> RefundReport:
        """What the provider's facts say of the refunds cardops submitted (settled, failed)."""
        ...

    def sign_test_webhook(
        self, payload: bytes, secrets: Mapping[str, str], *, now: float
    ) -> tuple[bytes, dict[str, str]]:
        """``payload`` as the provider would deliver it, signed with the sandbox's webhook
        ``secrets`` (by secret name): the body and the headers (``cardops invoke``, tests)."""
        ...
