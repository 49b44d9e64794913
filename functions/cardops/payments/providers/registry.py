"""Provider name → API client, from the settings (base URLs) and Secrets Manager (API keys)."""

from __future__ import annotations

from functools import cache

from cardops.kernel.config import settings
from cardops.kernel.secrets import SecretNotConfigured, provider_api_keys
from cardops.payments.providers.base import PaymentLookup, PaymentProvider, ProviderNotConfigured


class UnsupportedProvider(Exception):
    """No API client for this provider (the sandbox provider has none)."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"provider {provider!r} has no API client for captures and cancels")
        self.provider = provider


def api_key(key: str) -> str:
    """A provider API key; :class:`ProviderNotConfigured` (transient) while it is empty."""
    try:
        return provider_api_keys().require(key)
    except SecretNotConfigured as exc:
        raise ProviderNotConfigured(f"provider API key {exc}") from exc


#: providers whose client needs the stored payments (``payments``) besides its keys
READS_STORED_PAYMENTS = frozenset({"sbps"})


@cache
def provider_client(name: str, payments: PaymentLookup | None = None) -> PaymentProvider:
    """The API client of ``name``; ``payments`` (the use cases' view of stored payments) is what a
    client may need besides its keys: SBPS's has no client without it."""
    if name == "payjp":
        from cardops.payments.providers.payjp import PayjpClient

        return PayjpClient(
            api_base=settings().payjp_api_base,
            secret_key=lambda: api_key("payjp_secret_key"),
        )
    if name == "stripe":
        from cardops.payments.providers.stripe import StripePlugin

        return StripePlugin().client()
    if name == "sbps" and payments is not None:
        from cardops.payments.providers.sbps import PLUGIN

        return PLUGIN.client(payments)
    raise UnsupportedProvider(name)


def reset() -> None:
    """Forget the clients (tests and the sandbox change settings and secrets)."""
    provider_client.cache_clear()
