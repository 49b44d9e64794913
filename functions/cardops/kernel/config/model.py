"""``Settings``: the one model of the environment (pydantic-settings), read by ``config.settings()``.

A variable the stack sets is a field here, with the stack's name as its alias. Secrets are never
here: only the Secrets Manager id that holds them. The webhook function reads a few of these fields
through ``config.lean_settings()`` instead (the same names and rules, without importing this).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cardops.kernel.config import REPAYMENT_MAX_DOCUMENT_BYTES, LeanSettings


class Settings(BaseSettings):
    # the stack's names exactly (case-sensitive), only from the environment (no .env file, no
    # secrets directory), everything else the process has is ignored
    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, extra="ignore")

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
    #: SBPS error types (the 4th–5th characters of ``res_err_code``, comma-separated) that answer an
    #: authorization under a purchase id SBPS already holds, and a stored-card lookup finding no card:
    #: SBPS's public error table does not say which a contract gets (``sbps.client.SbpsSettings``)
    sbps_duplicate_order_errors: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset({"96"}), alias="SBPS_DUPLICATE_ORDER_ERRORS"
    )
    sbps_no_stored_card_errors: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset({"83"}), alias="SBPS_NO_STORED_CARD_ERRORS"
    )
    feed_bucket: str = Field(default="", alias="FEED_BUCKET_NAME")
    evidence_bucket: str = Field(default="", alias="EVIDENCE_BUCKET_NAME")
    capture_deadline_state_machine_arn: str = Field(default="", alias="CAPTURE_DEADLINE_STATE_MACHINE_ARN")
    repayment_state_machine_arn: str = Field(default="", alias="REPAYMENT_STATE_MACHINE_ARN")
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME")
    operator_queue_url: str = Field(default="", alias="OPERATOR_QUEUE_URL")
    #: the janitor's fan-out: batches of payments due a check, from the scheduler to the worker
    janitor_queue_url: str = Field(default="", alias="JANITOR_QUEUE_URL")
    #: how long a raw webhook is kept for dedupe and audit
    raw_event_ttl_days: int = Field(default=LeanSettings.raw_event_ttl_days, alias="RAW_EVENT_TTL_DAYS", ge=1)
    #: webhook bodies larger than this are refused with 413 (SPEC §1)
    max_webhook_bytes: int = Field(default=LeanSettings.max_webhook_bytes, alias="MAX_WEBHOOK_BYTES", ge=1)
    #: Stripe signature timestamp tolerance in seconds (SPEC §1)
    stripe_tolerance_seconds: int = Field(
        default=LeanSettings.stripe_tolerance_seconds, alias="STRIPE_TOLERANCE_SECONDS", ge=1
    )
    secret_max_age_seconds: int = Field(
        default=LeanSettings.secret_max_age_seconds, alias="SECRET_MAX_AGE_SECONDS", ge=0
    )
    #: the plans of SPEC §6 as JSON of ``ledger.domain.fees.PlansConfig``; unset: the defaults
    plans_json: str | None = Field(default=None, alias="CARDOPS_PLANS")

    # -- re-payment rules (SPEC §4) --
    repayment_support_address: str = Field(default="support@example.jp", alias="REPAYMENT_SUPPORT_ADDRESS")
    #: support cases (issue 16): the case workflow, the monthly reports' bucket, and the SLA policy
    #: as JSON of ``support.domain.sla.SlaPolicy`` (the seed's business days when empty)
    support_case_state_machine_arn: str = Field(default="", alias="SUPPORT_CASE_STATE_MACHINE_ARN")
    support_reports_bucket: str = Field(default="", alias="SUPPORT_REPORTS_BUCKET_NAME")
    support_sla_policy: str = Field(default="", alias="SUPPORT_SLA_POLICY")
    repayment_window_days: int = Field(default=60, ge=1, le=365, alias="REPAYMENT_WINDOW_DAYS")
    repayment_decision_timeout_seconds: int = Field(
        default=7 * 86400, ge=1, le=365 * 86400, alias="REPAYMENT_DECISION_TIMEOUT_SECONDS"
    )
    repayment_max_document_bytes: int = Field(
        default=REPAYMENT_MAX_DOCUMENT_BYTES, ge=1, alias="REPAYMENT_MAX_DOCUMENT_BYTES"
    )
    #: card brands that accept a merchant-initiated charge (comma-separated, case-insensitive)
    repayment_mit_brands: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset({"visa", "mastercard", "jcb", "american express"}), alias="REPAYMENT_MIT_BRANDS"
    )

    #: the web console (issue 15): the Cognito user pool whose ID tokens it accepts, and its app client
    console_user_pool_id: str = Field(default="", alias="CONSOLE_USER_POOL_ID")
    console_client_id: str = Field(default="", alias="CONSOLE_CLIENT_ID")
    #: the local sandbox only (never set by the stack): the private JWK (JSON) its user switcher signs
    #: ID tokens with; when set, ``/console/sandbox/login`` exists and tokens are checked against it
    console_sandbox_signing_key: SecretStr = Field(default=SecretStr(""), alias="CONSOLE_SANDBOX_SIGNING_KEY")

    @field_validator("repayment_mit_brands", mode="before")
    @classmethod
    def _brands(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(b.strip().casefold() for b in value.split(",") if b.strip())
        return value

    @field_validator("sbps_duplicate_order_errors", "sbps_no_stored_card_errors", mode="before")
    @classmethod
    def _error_types(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(t.strip().upper() for t in value.split(",") if t.strip())
        return value

    def brand_allows_mit(self, brand: str | None) -> bool:
        return brand is not None and brand.casefold() in self.repayment_mit_brands
