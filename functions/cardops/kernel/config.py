"""Settings: one pydantic model validated once per process from the environment.

Read lazily (``settings()``), never at import time, so tests and the sandbox can set the
environment first. Secrets are never here: only the Secrets Manager id that holds them.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: str = Field(default="dev", alias="CARDOPS_STAGE")
    table_name: str = Field(alias="TABLE_NAME")
    events_queue_url: str = Field(default="", alias="EVENTS_QUEUE_URL")
    #: where the events queue parks messages after ``maxReceiveCount`` (listed and redriven by admins)
    dead_letter_queue_url: str = Field(default="", alias="DEAD_LETTER_QUEUE_URL")
    #: webhook verification secrets (the only secret the webhook function may read)
    webhook_secret_id: str = Field(default="", alias="WEBHOOK_SECRET_ID")
    #: provider API keys (functions that call the providers)
    provider_api_keys_secret_id: str = Field(default="", alias="PROVIDER_API_KEYS_SECRET_ID")
    payjp_api_base: str = Field(default="https://api.pay.jp", alias="PAYJP_API_BASE")
    stripe_api_base: str = Field(default="https://api.stripe.com", alias="STRIPE_API_BASE")
    #: SBPS's XML API endpoint: SBPS names it with the contract ("接続先: サービス開始時ご案内");
    #: the default is the production URL the open-source clients use
    sbps_api_url: str = Field(default="https://api.sps-system.com/api/xmlapi.do", alias="SBPS_API_URL")
    feed_bucket: str = Field(default="", alias="FEED_BUCKET_NAME")
    evidence_bucket: str = Field(default="", alias="EVIDENCE_BUCKET_NAME")
    capture_deadline_state_machine_arn: str = Field(default="", alias="CAPTURE_DEADLINE_STATE_MACHINE_ARN")
    repayment_state_machine_arn: str = Field(default="", alias="REPAYMENT_STATE_MACHINE_ARN")
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME")
    operator_queue_url: str = Field(default="", alias="OPERATOR_QUEUE_URL")
    #: how long a raw webhook is kept for dedupe and audit
    raw_event_ttl_days: int = Field(default=90, alias="RAW_EVENT_TTL_DAYS", ge=1)
    #: webhook bodies larger than this are refused with 413 (SPEC §1)
    max_webhook_bytes: int = Field(default=256 * 1024, alias="MAX_WEBHOOK_BYTES", ge=1)
    #: Stripe signature timestamp tolerance in seconds (SPEC §1)
    stripe_tolerance_seconds: int = Field(default=300, alias="STRIPE_TOLERANCE_SECONDS", ge=1)
    secret_max_age_seconds: int = Field(default=300, alias="SECRET_MAX_AGE_SECONDS", ge=0)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.model_validate({k: v for k, v in os.environ.items() if k.isupper()})


def reset_settings() -> None:
    """Forget the cached settings (tests and the sandbox change the environment)."""
    settings.cache_clear()
