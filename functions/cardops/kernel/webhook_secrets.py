"""The webhook verification secret, read without pydantic (the webhook function's cold start, issue 13).

Secrets Manager holds it as a JSON object (``WEBHOOK_SECRET_ID``), read through the running
function's own client and kept for ``SECRET_MAX_AGE_SECONDS``. Not through Powertools Parameters:
its provider imports boto3, which the webhook function otherwise never loads (issue 13: its cold
start is botocore's clients only). ``kernel.secrets``
re-exports everything here beside the provider API keys (a pydantic model, for the functions that
call the providers). The values never reach a log: the repr names the keys only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from cardops.kernel import aws
from cardops.kernel.config import lean_settings


class SecretNotConfigured(Exception):
    """A secret key is empty or missing: an operator has to write it (README, "Set the secrets")."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} is not configured")
        self.key = key


class WebhookSecrets:
    """Signing secrets, tokens and hash keys; a ``*_previous`` value is accepted beside the current
    one during a rotation window, so rotating a secret never drops a webhook. An empty or missing
    key means "not configured" (a fresh stack starts with every key empty)."""

    KEYS: ClassVar[tuple[str, ...]] = (
        "stripe_webhook_secret",
        "stripe_webhook_secret_previous",
        "payjp_webhook_token",
        "payjp_webhook_token_previous",
        "sbps_hash_key",
        "sbps_hash_key_previous",
    )
    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def model_validate(cls, raw: Mapping[str, Any]) -> WebhookSecrets:
        """Only the known keys, each a string (other keys are ignored, as the stack may add some)."""
        values: dict[str, str] = {}
        for key in cls.KEYS:
            value = raw.get(key, "")
            if not isinstance(value, str):
                raise ValueError(f"the webhook secret's {key} must be a string")  # never the value
            values[key] = value
        return cls(values)

    @classmethod
    def keys(cls) -> list[str]:
        """Every key, as the stack creates the secret (all present, all empty)."""
        return list(cls.KEYS)

    def __repr__(self) -> str:
        configured = ", ".join(key for key in self.KEYS if self._values.get(key))
        return f"WebhookSecrets(configured: {configured or 'none'})"

    def _both(self, current: str, previous: str) -> list[str]:
        return [v for v in (self._values.get(current, ""), self._values.get(previous, "")) if v]

    def stripe_secrets(self) -> list[str]:
        return self._both("stripe_webhook_secret", "stripe_webhook_secret_previous")

    def payjp_tokens(self) -> list[str]:
        return self._both("payjp_webhook_token", "payjp_webhook_token_previous")

    def sbps_keys(self) -> list[str]:
        return self._both("sbps_hash_key", "sbps_hash_key_previous")


#: what ``resources.SANDBOX_SECRETS`` splits into, and what the stack creates empty
WEBHOOK_SECRET_KEYS = WebhookSecrets.keys()


#: (function, secret id) -> (the secret's JSON object, when to read it again on the monotonic clock)
_cached: dict[tuple[str | None, str], tuple[Any, float]] = {}
_CACHE_LOCK = threading.Lock()


def read_secret(secret_id: str, setting: str) -> Any:
    """The JSON object named by ``secret_id``; ``{}`` when none is configured for this function."""
    if not secret_id:
        return {}  # no secret configured for this function: every key is "not configured"
    key = (aws.current_identity(), secret_id)
    now = time.monotonic()
    with _CACHE_LOCK:
        cached = _cached.get(key)
    if cached is not None and now < cached[1]:
        return cached[0]
    answer = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
    text = answer["SecretString"] if "SecretString" in answer else answer["SecretBinary"]
    try:
        raw: Any = json.loads(text)
    except ValueError:
        raw = None  # never the value: it may be a secret written in the wrong shape
    if not isinstance(raw, dict):
        raise ValueError(f"the secret named by {setting} must be a JSON object")
    with _CACHE_LOCK:
        _cached[key] = (raw, now + lean_settings().secret_max_age_seconds)
    return raw


def clear_cached_secrets() -> None:
    """Read every secret again on its next use (the tests, after writing a secret)."""
    with _CACHE_LOCK:
        _cached.clear()


def webhook_secrets() -> WebhookSecrets:
    return WebhookSecrets.model_validate(read_secret(lean_settings().webhook_secret_id, "WEBHOOK_SECRET_ID"))
