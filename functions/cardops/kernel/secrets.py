"""Provider secrets from Secrets Manager, cached for ``SECRET_MAX_AGE_SECONDS`` (SPEC §1, §9).

Two secrets, so the internet-facing webhook function can read only what verifies webhooks:

- the webhook verification secret (``WEBHOOK_SECRET_ID``): signing secrets, tokens and hash keys;
- the provider API keys (``PROVIDER_API_KEYS_SECRET_ID``): what calls the providers' APIs.

The first lives in ``kernel.webhook_secrets`` (no pydantic: the webhook function's cold start) and is
re-exported here. An empty or missing key means "not configured" (a fresh stack starts with every
key empty): callers get a clear error naming the key, never a crash. Secrets never go to logs: the
models' repr hides them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

from cardops.kernel.config import settings
from cardops.kernel.webhook_secrets import WEBHOOK_SECRET_KEYS as WEBHOOK_SECRET_KEYS
from cardops.kernel.webhook_secrets import SecretNotConfigured as SecretNotConfigured
from cardops.kernel.webhook_secrets import WebhookSecrets as WebhookSecrets
from cardops.kernel.webhook_secrets import read_secret
from cardops.kernel.webhook_secrets import webhook_secrets as webhook_secrets


class ProviderApiKeys(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

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


#: what ``resources.SANDBOX_SECRETS`` splits into beside ``WEBHOOK_SECRET_KEYS``, created empty
PROVIDER_API_KEYS = list(ProviderApiKeys.model_fields)


def provider_api_keys() -> ProviderApiKeys:
    config = settings()
    return ProviderApiKeys.model_validate(
        read_secret(config.provider_api_keys_secret_id, "PROVIDER_API_KEYS_SECRET_ID")
    )
