"""PAY.JP (the standard plan) as one provider plugin: ``PLUGIN``.

| module      | what                                                                  |
| ----------- | --------------------------------------------------------------------- |
| ``events``  | which events concern a charge, and which charge (pure)                |
| ``client``  | ``PayjpClient``, the v1 charges API, and charge objects → facts       |
| ``recharge``| re-payment on the customer's saved card (SPEC §4)                     |

The webhook function loads only this module and ``events``: the API client (urllib3) is imported
where a client is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from cardops.payments.domain.webhook_signatures import json_event_id, verify_payjp_token

if TYPE_CHECKING:
    from cardops.kernel.webhook_secrets import WebhookSecrets
    from cardops.payments.domain.capture_deadline import AuthorizationHold
    from cardops.payments.domain.payments import CanonicalEvent, PaymentFacts
    from cardops.payments.domain.refunds import ProviderCapabilities, RefundReport
    from cardops.payments.providers.base import EventContext, Header, PaymentLookup, ProviderPlugin
    from cardops.payments.providers.payjp.client import PayjpClient
    from cardops.payments.providers.payjp.recharge import PayjpRecharger

#: the sandbox secret a test webhook is signed with (``sign_test_webhook``)
SIGNED_WITH: Final = "payjp_webhook_token"


class PayjpPlugin:
    name: Final = "payjp"
    #: PAY.JP addresses charges by its own ids
    reads_stored_payments: Final = False

    @property
    def capabilities(self) -> ProviderCapabilities:
        """Card refunds cannot be taken back once submitted."""
        from cardops.payments.domain.refunds import ProviderCapabilities

        return ProviderCapabilities(refund_reversal=False)

    @property
    def authorization_hold(self) -> AuthorizationHold:
        """A charge without ``expired_at`` holds for the default ``expiry_days`` (7)."""
        from cardops.payments.domain.capture_deadline import AuthorizationHold

        return AuthorizationHold.EXPIRY_DAYS

    def webhook_secrets(self, secrets: WebhookSecrets) -> list[str]:
        return secrets.payjp_tokens()

    def verify(self, raw_body: bytes, header: Header, secrets: Sequence[str], *, now: float) -> None:
        """A fixed token in ``X-Payjp-Webhook-Token``: it authenticates the sender, not the body."""
        verify_payjp_token(header("X-Payjp-Webhook-Token"), secrets)

    def event_id(self, raw_body: bytes) -> str:
        return json_event_id(raw_body)

    def to_canonical(self, raw_body: bytes, context: EventContext | None = None) -> CanonicalEvent:
        """What the event says is taken from a re-fetch of the charge it names."""
        from cardops.payments.providers.base import UnsupportedProviderEvent
        from cardops.payments.providers.payjp import events

        try:
            event_id, kind, charge_id = events.charge_event(raw_body)
        except events.NotAChargeEvent as exc:
            raise UnsupportedProviderEvent(str(exc)) from exc
        if context is None:
            raise TypeError("PAY.JP events are read from a re-fetch: give the processor's context")
        snapshot = context.client().retrieve(charge_id)
        return snapshot.as_event(provider=self.name, event_id=event_id, kind=kind, occurred_at=context.now)

    def client(self, payments: PaymentLookup | None = None) -> PayjpClient:
        """From the settings (base URL) and Secrets Manager (the key, read per call: building it
        before the key is written is fine). PAY.JP addresses charges by its own ids."""
        from cardops.kernel.config import settings
        from cardops.payments.providers.payjp.client import PayjpClient
        from cardops.payments.providers.registry import api_key

        return PayjpClient(api_base=settings().payjp_api_base, secret_key=lambda: api_key("payjp_secret_key"))

    def recharger(self, payments: PaymentLookup | None = None) -> PayjpRecharger:
        from cardops.payments.providers.payjp.recharge import PayjpRecharger

        return PayjpRecharger(self.client())

    def refund_report(self, facts: PaymentFacts) -> RefundReport:
        """PAY.JP reports one running total of what was refunded; no refund fails after its answer."""
        from cardops.payments.domain.refunds import RefundReport
        from cardops.payments.providers.payjp import events

        total = facts.refunds.get(events.PAYJP_REFUND_TOTAL)
        return RefundReport(settled_total=None if total is None else total.amount)

    def sign_test_webhook(
        self, payload: bytes, secrets: Mapping[str, str], *, now: float
    ) -> tuple[bytes, dict[str, str]]:
        return payload, {
            "Content-Type": "application/json",
            "X-Payjp-Webhook-Token": secrets[SIGNED_WITH],
        }


PLUGIN: Final = PayjpPlugin()

if TYPE_CHECKING:

    def _checked(plugin: PayjpPlugin) -> ProviderPlugin:
        return plugin  # mypy holds PayjpPlugin to the protocol here
