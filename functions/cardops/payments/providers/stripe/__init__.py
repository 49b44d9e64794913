"""Stripe as one provider plugin (``base.ProviderPlugin``), international cards (SPEC §1).

| module       | what                                                         | imports the SDK |
| ------------ | ------------------------------------------------------------ | --------------- |
| ``plugin``   | ``StripePlugin``: verify, event id, to canonical, client, capabilities | no    |
| ``events``   | Stripe's JSON shapes → ``PaymentFacts`` / ``CanonicalEvent`` (pure) | no       |
| ``client``   | ``StripeClient`` over the official ``stripe`` SDK             | yes             |
| ``recharge`` | re-payment on the saved customer/payment method (SPEC §4)     | via ``client``  |

Only ``client`` imports the ``stripe`` SDK, and only when a client is built, so the webhook
function stays lean.
"""

from cardops.payments.providers.stripe.plugin import PLUGIN, StripePlugin

__all__ = ["PLUGIN", "StripePlugin"]
