"""SB Payment Service (the extended plan) as one provider plugin: ``PLUGIN``.

- ``protocol``: SBPS's XML API wire format and check code (sources named there);
- ``client``: the credit-card API client behind ``PaymentProvider`` (capture 売上確定, cancel and
  refund 取消返金 / 部分返金, lookup 決済結果参照);
- ``notifications``: result notifications (Shift_JIS or UTF-8 forms), their check code, events.

Nothing outside this folder knows SBPS's shapes; the intake, the processor and the use cases reach
it through ``PLUGIN`` (``payments.providers.base.ProviderPlugin``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from cardops.payments.providers.sbps import notifications

if TYPE_CHECKING:
    from cardops.kernel.webhook_secrets import WebhookSecrets
    from cardops.payments.domain.capture_deadline import AuthorizationHold
    from cardops.payments.domain.payments import CanonicalEvent, Payment, PaymentFacts
    from cardops.payments.domain.refunds import ProviderCapabilities, RefundReport
    from cardops.payments.providers.base import (
        EventContext,
        Header,
        PaymentLookup,
        PaymentProvider,
        ProviderPlugin,
    )
    from cardops.payments.providers.recharge import Recharger
    from cardops.payments.providers.sbps.client import KnownPayment


#: the sandbox secret a test notification is signed with (``sign_test_webhook``)
SIGNED_WITH: Final = "sbps_hash_key"


class SbpsPlugin:
    """Imports only what verifying a notification needs: the webhook function loads this module."""

    name: Final = "sbps"
    #: the API addresses a payment by the tracking id its notification carried (stored by cardops)
    reads_stored_payments: Final = True

    @property
    def capabilities(self) -> ProviderCapabilities:
        """SBPS card refunds cannot be taken back once submitted."""
        from cardops.payments.domain.refunds import ProviderCapabilities

        return ProviderCapabilities(refund_reversal=False)

    @property
    def authorization_hold(self) -> AuthorizationHold:
        """SBPS documents no validity cardops can rely on: the business bound alone."""
        from cardops.payments.domain.capture_deadline import AuthorizationHold

        return AuthorizationHold.UNKNOWN

    def webhook_secrets(self, secrets: WebhookSecrets) -> list[str]:
        return secrets.sbps_keys()

    def verify(self, raw_body: bytes, header: Header, secrets: Sequence[str], *, now: float) -> None:
        """The notification's check code (``sps_hashcode``) against the hash keys; no header, no time."""
        notifications.verify(notifications.decode(raw_body), secrets)

    def event_id(self, raw_body: bytes) -> str:
        return notifications.event_id(notifications.decode(raw_body).values)

    def to_canonical(self, raw_body: bytes, context: EventContext | None = None) -> CanonicalEvent:
        """A notification carries its facts: no re-fetch, ``context`` is not needed."""
        return notifications.parse(raw_body)

    def client(self, payments: PaymentLookup | None = None) -> PaymentProvider:
        """The API client from the settings and the provider API keys; ``payments`` is what cardops
        stored (SBPS's API addresses a payment by the tracking id its notification carried), so
        there is no client without it."""
        if payments is None:
            raise TypeError("the SBPS client reads stored payments: build it with a lookup")
        from pydantic import ValidationError

        from cardops.kernel.config import settings
        from cardops.kernel.secrets import provider_api_keys
        from cardops.payments.providers.base import ProviderNotConfigured
        from cardops.payments.providers.registry import api_key
        from cardops.payments.providers.sbps.client import SbpsClient, SbpsSettings

        config = settings()
        try:
            sbps = SbpsSettings(
                api_url=config.sbps_api_url,
                merchant_id=api_key("sbps_merchant_id"),
                service_id=api_key("sbps_service_id"),
                hash_key=api_key("sbps_api_hash_key"),
                basic_password=provider_api_keys().sbps_basic_password.get_secret_value(),
                duplicate_order_errors=config.sbps_duplicate_order_errors,
                no_stored_card_errors=config.sbps_no_stored_card_errors,
            )
        except ValidationError as exc:  # a merchant id that is not 5 digits, a service id not 3
            fields = ", ".join(str(error["loc"][0]) for error in exc.errors())
            raise ProviderNotConfigured(f"SBPS API settings are not valid: {fields}") from None
        return SbpsClient(sbps, known=lambda payment_id: known_payment(payments(self.name, payment_id)))

    def recharger(self, payments: PaymentLookup | None = None) -> Recharger | None:
        """The card SBPS keeps under the original's customer id (``recharge``); the customer id is
        what cardops stored from the purchase's notification, so there is none without ``payments``."""
        if payments is None:
            return None
        from cardops.kernel import clock
        from cardops.payments.providers.sbps.client import SbpsClient
        from cardops.payments.providers.sbps.recharge import SbpsRecharger

        client = self.client(payments)
        assert isinstance(client, SbpsClient)
        return SbpsRecharger(client, lambda payment_id: payments(self.name, payment_id), now=clock.now)

    def refund_report(self, facts: PaymentFacts) -> RefundReport:
        """SBPS answers a refund (取消返金) synchronously: nothing is settled or fails afterwards."""
        from cardops.payments.domain.refunds import RefundReport

        return RefundReport()

    def sign_test_webhook(
        self, payload: bytes, secrets: Mapping[str, str], *, now: float
    ) -> tuple[bytes, dict[str, str]]:
        """``payload`` is the form's fields (``a=1&b=2``): signed with the check code, in Shift_JIS."""
        pairs = parse_qsl(payload.decode(), keep_blank_values=True)
        body = notifications.sign(pairs, secrets[SIGNED_WITH])
        return body, {"Content-Type": "application/x-www-form-urlencoded"}


def known_payment(payment: Payment | None) -> KnownPayment | None:
    """SBPS's tracking id and the amounts cardops holds for an SBPS payment."""
    from cardops.payments.providers.sbps.client import KnownPayment

    if payment is None or not payment.metadata.provider_reference:
        return None
    return KnownPayment(
        tracking_id=payment.metadata.provider_reference,
        authorized_amount=payment.facts.authorized_amount,
        captured_amount=payment.facts.captured_amount,
    )


PLUGIN: ProviderPlugin = SbpsPlugin()
