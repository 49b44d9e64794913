"""Provider secrets from Secrets Manager, cached by Powertools Parameters (SPEC §1, §9).

Two secrets, so the internet-facing webhook function can read only what verifies webhooks:

- the webhook verification secret (``WEBHOOK_SECRET_ID``): signing secrets, tokens and hash keys;
- the provider API keys (``PROVIDER_API_KEYS_SECRET_ID``): what calls the providers' APIs.

A ``*_previous`` value is accepted beside the current one during a rotation window, so rotating a
secret never drops a webhook. An empty or missing key means "not configured" (a fresh stack starts
with every key empty): callers get a clear error naming the key, never a crash. Secrets never go to
logs: the models' repr hides them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, SecretStr

from cardops.kernel import aws
from cardops.kernel.config import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider


class SecretNotConfigured(Exception):
    """A secret key is empty or missing: an operator has to write it (README, "Set the secrets")."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} is not configured")
        self.key = key


class _Secrets(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    @classmethod
    def keys(cls) -> list[str]:
        """Every key, as the stack creates the secret (all present, all empty)."""
        return list(cls.model_fields)


class WebhookSecrets(_Secrets):
    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_webhook_secret_previous: SecretStr = SecretStr("")
    payjp_webhook_token: SecretStr = SecretStr("")
    payjp_webhook_token_previous: SecretStr = SecretStr("")
    sbps_hash_key: SecretStr = SecretStr("")
    sbps_hash_key_previous: SecretStr = SecretStr("")

    @staticmethod
    def _both(current: SecretStr | None, previous: SecretStr | None) -> list[str]:
        values = [v.get_secret_value() for v in (current, previous) if v is not None]
        return [v for v in values if v]

    def stripe_secrets(self) -> list[str]:
        return self._both(self.stripe_webhook_secret, self.stripe_webhook_secret_previous)

    def payjp_tokens(self) -> list[str]:
        return self._both(self.payjp_webhook_token, self.payjp_webhook_token_previous)

    def sbps_keys(self) -> list[str]:
        return self._both(self.sbps_hash_key, self.sbps_hash_key_previous)


class ProviderApiKeys(_Secrets):
    payjp_secret_key: SecretStr = SecretStr("")
    stripe_secret_key: SecretStr = SecretStr("")
    sbps_merchant_id: SecretStr = SecretStr("")
    sbps_service_id: SecretStr = SecretStr("")
    #: the hash key of the API's ``sps_hashcode`` (SBPS issues one per merchant and service; the
    #: webhook secret holds the same value as ``sbps_hash_key``, for the webhook function alone)
    sbps_api_hash_key: SecretStr = SecretStr("")
    #: the HTTP Basic password SBPS issues; empty means the hash key
    sbps_basic_password: SecretStr = SecretStr("")

    def require(self, key: str) -> str:
        """The value of ``key``; :class:`SecretNotConfigured` when it is empty."""
        value = getattr(self, key)
        text = value.get_secret_value() if isinstance(value, SecretStr) else ""
        if not text:
            raise SecretNotConfigured(key)
        return text


#: what ``resources.SANDBOX_SECRETS`` splits into, and what the stack creates empty
WEBHOOK_SECRET_KEYS = WebhookSecrets.keys()
PROVIDER_API_KEYS = ProviderApiKeys.keys()


def _read(secret_id: str, setting: str) -> Any:
    if not secret_id:
        return {}  # no secret configured for this function: every key is "not configured"
    raw: Any = _provider().get(secret_id, transform="json", max_age=settings().secret_max_age_seconds)
    if not isinstance(raw, dict):
        raise ValueError(f"the secret named by {setting} must be a JSON object")
    return raw


def webhook_secrets() -> WebhookSecrets:
    return WebhookSecrets.model_validate(_read(settings().webhook_secret_id, "WEBHOOK_SECRET_ID"))


def provider_api_keys() -> ProviderApiKeys:
    config = settings()
    return ProviderApiKeys.model_validate(
        _read(config.provider_api_keys_secret_id, "PROVIDER_API_KEYS_SECRET_ID")
    )


def _provider() -> SecretsProvider:
    """Powertools' provider, reading through the running function's own client (``aws.client``).

    Kept in Powertools' provider registry, so ``parameters.clear_caches()`` still clears it. Imported
    on first read, not at import: a cold start pays for Parameters only when a secret is needed.
    """
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider

    identity = aws.current_identity()
    key = "secrets" if identity is None else f"secrets:{identity}"
    client = aws.client("secretsmanager")
    provider = DEFAULT_PROVIDERS.get(key)
    if not isinstance(provider, SecretsProvider) or provider.client is not client:
        provider = SecretsProvider(boto3_client=client)
        DEFAULT_PROVIDERS[key] = provider
    return provider
