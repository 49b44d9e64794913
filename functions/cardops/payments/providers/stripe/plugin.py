"""``StripePlugin``: the whole Stripe provider behind ``base.ProviderPlugin``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from cardops.payments.domain.webhook_signatures import (
    MalformedWebhook,
    json_event_id,
    verify_stripe_signature,
)

if TYPE_CHECKING:
    from cardops.kernel.webhook_secrets import WebhookSecrets
    from cardops.payments.domain.capture_deadline import AuthorizationHold
    from cardops.payments.domain.payments import CanonicalEvent, PaymentFacts
    from cardops.payments.domain.refunds import ProviderCapabilities, RefundReport
    from cardops.payments.providers.base import EventContext, Header, PaymentLookup, ProviderPlugin
    from cardops.payments.providers.stripe.client import StripeClient
    from cardops.payments.providers.stripe.recharge import StripeRecharger

#: the sandbox secret a test webhook is signed with (``sign_test_webhook``)
SIGNED_WITH: Final = "stripe_webhook_secret"


class StripePlugin:
    """Verifying and naming a webhook imports no payment model and no SDK: the webhook function
    loads this module (issue 13); the rest is imported where it is used."""

    name: Final = "stripe"
    #: Stripe addresses payments by its own ids
    reads_stored_payments: Final = False

    def __init__(self, *, tolerance_seconds: int | None = None) -> None:
        """``tolerance_seconds``: the settings' ``stripe_tolerance_seconds`` when not given."""
        self._tolerance_seconds = tolerance_seconds

    @property
    def tolerance_seconds(self) -> int:
        if self._tolerance_seconds is not None:
            return self._tolerance_seconds
        from cardops.kernel.config import lean_settings

        return lean_settings().stripe_tolerance_seconds

    @property
    def capabilities(self) -> ProviderCapabilities:
        """Card refunds cannot be taken back once submitted."""
        from cardops.payments.domain.refunds import ProviderCapabilities

        return ProviderCapabilities(refund_reversal=False)

    @property
    def authorization_hold(self) -> AuthorizationHold:
        """Without ``capture_before``, the card networks' windows (7 days online, 30 extended)."""
        from cardops.payments.domain.capture_deadline import AuthorizationHold

        return AuthorizationHold.CARD_NETWORKS

    def webhook_secrets(self, secrets: WebhookSecrets) -> list[str]:
        return secrets.stripe_secrets()

    def verify(self, raw_body: bytes, header: Header, secrets: Sequence[str], *, now: float) -> None:
        """``Stripe-Signature: t=…,v1=…``: HMAC-SHA256 over ``"{t}.{raw body}"``, any v1 matching."""
        verify_stripe_signature(
            raw_body, header("Stripe-Signature"), secrets, now=now, tolerance_seconds=self.tolerance_seconds
        )

    def event_id(self, raw_body: bytes) -> str:
        return json_event_id(raw_body)

    def to_canonical(self, raw_body: bytes, context: EventContext | None = None) -> CanonicalEvent:
        """Stripe events carry their objects: no re-fetch, ``context`` is not needed."""
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

    def recharger(self, payments: PaymentLookup | None = None) -> StripeRecharger:
        """Off-session on the original's saved customer and payment method."""
        from cardops.payments.providers.stripe.recharge import StripeRecharger

        return StripeRecharger(self.client())

    def refund_report(self, facts: PaymentFacts) -> RefundReport:
        """Stripe names each refund; one that failed or was canceled after submission (``charge.
        refund.updated``, ``refund.failed``) is recorded under its id (``events``)."""
        from cardops.payments.domain.refunds import RefundReport

        failed = frozenset(key for key, fact in facts.refunds.items() if fact.state in ("failed", "canceled"))
        return RefundReport(failed=failed)

    def sign_test_webhook(
        self, payload: bytes, secrets: Mapping[str, str], *, now: float
    ) -> tuple[bytes, dict[str, str]]:
        """``Stripe-Signature`` as the official library generates it."""
        from stripe import WebhookSignature

        header = WebhookSignature.generate_signature_header(
            payload.decode(), secrets[SIGNED_WITH], timestamp=int(now)
        )
        return payload, {"Content-Type": "application/json", "Stripe-Signature": header}


PLUGIN: Final = StripePlugin()


if TYPE_CHECKING:

    def _checked(plugin: StripePlugin) -> ProviderPlugin:
        return plugin  # mypy holds StripePlugin to the protocol here
