"""``StripePlugin``: the whole Stripe provider behind ``base.ProviderPlugin``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from cardops.payments.domain.webhook_signatures import (
    MalformedWebhook,
    json_event_id,
    verify_stripe_signature,
)

if TYPE_CHECKING:
    from cardops.kernel.webhook_secrets import WebhookSecrets
    from cardops.payments.domain.payments import CanonicalEvent
    from cardops.payments.domain.refunds import ProviderCapabilities
    from cardops.payments.providers.base import Header, PaymentLookup, ProviderPlugin
    from cardops.payments.providers.stripe.client import StripeClient

#: SPEC §1: reject a signature whose timestamp is further than this from now
DEFAULT_TOLERANCE_SECONDS: Final = 300


class StripePlugin:
    """Verifying and naming a webhook imports no payment model and no SDK: the webhook function
    loads this module (issue 13); the rest is imported where it is used."""

    name: Final = "stripe"

    def __init__(self, *, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> None:
        self.tolerance_seconds = tolerance_seconds

    @property
    def capabilities(self) -> ProviderCapabilities:
        """Card refunds cannot be taken back once submitted (the refunds domain's table)."""
        from cardops.payments.domain.refunds import DEFAULT_CAPABILITIES

        return DEFAULT_CAPABILITIES[self.name]

    def webhook_secrets(self, secrets: WebhookSecrets) -> list[str]:
        return secrets.stripe_secrets()

    def verify(self, raw_body: bytes, header: Header, secrets: Sequence[str], *, now: float) -> None:
        """``Stripe-Signature: t=…,v1=…``: HMAC-SHA256 over ``"{t}.{raw body}"``, any v1 matching."""
        verify_stripe_signature(
            raw_body, header("Stripe-Signature"), secrets, now=now, tolerance_seconds=self.tolerance_seconds
        )

    def event_id(self, raw_body: bytes) -> str:
        return json_event_id(raw_body)

    def to_canonical(self, raw_body: bytes) -> CanonicalEvent:
        from cardops.payments.providers.base import UnsupportedProviderEvent
        from cardops.payments.providers.stripe import events

        try:
            return events.parse_event(raw_body)
        except events.UnsupportedEvent as exc:
            raise UnsupportedProviderEvent(str(exc)) from exc
        except events.MalformedEvent as exc:
            raise MalformedWebhook(str(exc)) from exc

    def client(self, payments: PaymentLookup | None = None) -> StripeClient:
        """Built from the settings (base URL) and Secrets Manager (the API key); imports the SDK.
        Stripe addresses payments by its own ids: ``payments`` is not needed."""
        from pydantic import SecretStr

        from cardops.kernel.config import settings
        from cardops.payments.providers.registry import api_key
        from cardops.payments.providers.stripe.client import StripeClient, StripeSettings

        key = api_key("stripe_secret_key")
        return StripeClient(StripeSettings(api_key=SecretStr(key), base_url=settings().stripe_api_base))


if TYPE_CHECKING:

    def _checked(plugin: StripePlugin) -> ProviderPlugin:
        return plugin  # mypy holds StripePlugin to the protocol here
