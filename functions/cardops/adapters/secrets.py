"""Provider secrets from Secrets Manager, cached by Powertools Parameters (SPEC §1, §9).

A ``*_previous`` value is accepted beside the current one during a rotation window, so rotating a
secret never drops a webhook. Secrets never go to logs: the model's repr hides them.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cardops.adapters import aws
from cardops.config import settings


class ProviderSecrets(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_webhook_secret_previous: SecretStr | None = None
    payjp_webhook_token: SecretStr = SecretStr("")
    payjp_webhook_token_previous: SecretStr | None = None
    sbps_hash_key: SecretStr = SecretStr("")
    sbps_hash_key_previous: SecretStr | None = None
    payjp_secret_key: SecretStr = SecretStr("")
    stripe_secret_key: SecretStr = SecretStr("")
    sbps_merchant_id: str = Field(default="")

    @staticmethod
    def _both(current: SecretStr, previous: SecretStr | None) -> list[str]:
        values = [current.get_secret_value()]
        if previous is not None and previous.get_secret_value():
            values.append(previous.get_secret_value())
        return [v for v in values if v]

    def stripe_secrets(self) -> list[str]:
        return self._both(self.stripe_webhook_secret, self.stripe_webhook_secret_previous)

    def payjp_tokens(self) -> list[str]:
        return self._both(self.payjp_webhook_token, self.payjp_webhook_token_previous)

    def sbps_keys(self) -> list[str]:
        return self._both(self.sbps_hash_key, self.sbps_hash_key_previous)


def provider_secrets() -> ProviderSecrets:
    config = settings()
    raw: Any = _provider().get(config.secret_id, transform="json", max_age=config.secret_max_age_seconds)
    return ProviderSecrets.model_validate(raw)


def _provider() -> SecretsProvider:
    """Powertools' provider, reading through the running function's own client (``aws.client``).

    Kept in Powertools' provider registry, so ``parameters.clear_caches()`` still clears it.
    """
    identity = aws.current_identity()
    key = "secrets" if identity is None else f"secrets:{identity}"
    client = aws.client("secretsmanager")
    provider = DEFAULT_PROVIDERS.get(key)
    if not isinstance(provider, SecretsProvider) or provider.client is not client:
        provider = SecretsProvider(boto3_client=client)
        DEFAULT_PROVIDERS[key] = provider
    return provider
