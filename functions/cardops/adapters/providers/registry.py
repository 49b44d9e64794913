"""Provider name → API client, from the settings (base URLs) and Secrets Manager (API keys)."""

from __future__ import annotations

from functools import cache

from pydantic import SecretStr

from cardops.adapters.providers.base import PaymentProvider
from cardops.adapters.secrets import provider_secrets
from cardops.config import settings


class UnsupportedProvider(Exception):
    """No API client for this provider (SBPS payments are captured from its own console)."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"provider {provider!r} has no API client for captures and cancels")
        self.provider = provider


@cache
def provider_client(name: str) -> PaymentProvider:
    if name == "payjp":
        from cardops.adapters.providers.payjp import PayjpClient

        return PayjpClient(
            api_base=settings().payjp_api_base,
            secret_key=lambda: provider_secrets().payjp_secret_key.get_secret_value(),
        )
    if name == "stripe":
        from cardops.adapters.providers.stripe import StripeClient, StripeSettings

        key = provider_secrets().stripe_secret_key.get_secret_value()
        return StripeClient(StripeSettings(api_key=SecretStr(key), base_url=settings().stripe_api_base))
    raise UnsupportedProvider(name)


def reset() -> None:
    """Forget the clients (tests and the sandbox change settings and secrets)."""
    provider_client.cache_clear()
