"""A Stripe API client implementing ``PaymentProvider`` over urllib3 (no ``stripe`` library at runtime).

Why its own transport: Stripe tells the client whether a failed request may be retried
(``Stripe-Should-Retry``), and a 5xx whose result Stripe stored under the idempotency key will
answer the same 5xx to every retry, so retrying blindly only delays the alarm. Every POST carries
an ``Idempotency-Key``; retries reuse it, so a lost response can never capture or refund twice.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from cardops.payments.providers import budget
from cardops.payments.providers.base import (
    PermanentProviderError,
    ProviderError,
    ProviderPayment,
    TransientProviderError,
)
from cardops.payments.providers.http import form_encode
from cardops.payments.providers.stripe_events import (
    StripeErrorDetail,
    StripePaymentIntent,
    StripeRefund,
    facts_from_payment_intent,
    metadata_from,
)

_M = TypeVar("_M", bound=BaseModel)

DEFAULT_API_BASE: Final = "https://api.stripe.com"
DEFAULT_API_VERSION: Final = "2024-06-20"
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
#: Expansions on every PaymentIntent answer: the charge carries the card (``capture_before``,
#: brand) and, expanded, its refunds (not returned otherwise since API version 2022-11-15).
_EXPAND: Final = ("latest_charge", "latest_charge.refunds")

StripeRefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
#: Our refund reasons (and Stripe's own) mapped to the three Stripe accepts; any other reason is
#: sent without ``reason`` and kept in ``metadata[cardops_reason]`` rather than mislabelled.
REFUND_REASONS: Mapping[str, StripeRefundReason] = {
    "duplicate": "duplicate",
    "duplicate_charge": "duplicate",
    "fraudulent": "fraudulent",
    "fraud": "fraudulent",
    "requested_by_customer": "requested_by_customer",
    "customer_request": "requested_by_customer",
    "customer_requested": "requested_by_customer",
    "customer_cancellation": "requested_by_customer",
}


class StripeSettings(BaseModel):
    """Connection settings; the secret key comes from Secrets Manager, never the environment."""

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr
    base_url: str = DEFAULT_API_BASE
    api_version: str = DEFAULT_API_VERSION
    connect_timeout: float = Field(default=3.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_cap: float = Field(default=8.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _https_unless_loopback(cls, value: str) -> str:
        """The key is a bearer secret: only loopback test servers may be spoken to in clear text."""
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value.rstrip("/")
        if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
            return value.rstrip("/")
        raise ValueError("base_url must be https (or http on a loopback address for tests)")


class StripeProviderPayment(ProviderPayment):
    """``ProviderPayment`` plus what a merchant-initiated re-payment needs from Stripe."""

    payment_method_id: str | None = None
    stripe_status: str
    #: the refund a ``refund`` call created (the refunds workflow tracks it by this id)
    refund_id: str | None = None


class StripeClient:
    """Retrieve, capture, cancel, refund and charge again, mapped to domain facts."""

    name = "stripe"

    def __init__(
        self,
        settings: StripeSettings,
        *,
        pool: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._pool = pool or urllib3.PoolManager(num_pools=4, maxsize=8)
        self._timeout = urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
        self._sleep = sleep
        self._rng = rng or random.Random()
        #: HTTP attempts made, retries included (benchmarks count provider calls per operation)
        self.attempts = 0

    # -- PaymentProvider -------------------------------------------------------------------------

    def retrieve(self, payment_id: str) -> StripeProviderPayment:
        intent = self._intent("GET", f"/v1/payment_intents/{_id(payment_id)}", {"expand": list(_EXPAND)})
        return to_provider_payment(intent)

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> StripeProviderPayment:
        """Capture all (``amount=None``) or part; Stripe releases the uncaptured rest."""
        if amount is not None and amount <= 0:
            raise PermanentProviderError("capture amount must be positive", code="invalid_amount")
        params: dict[str, Any] = {"amount_to_capture": amount, "expand": list(_EXPAND)}
        path = f"/v1/payment_intents/{_id(payment_id)}/capture"
        return to_provider_payment(self._intent("POST", path, params, idempotency_key))

    def cancel_authorization(self, payment_id: str, *, idempotency_key: str) -> StripeProviderPayment:
        """Release an uncaptured authorization; ``abandoned`` is Stripe's reason for "not established"."""
        params = {"cancellation_reason": "abandoned", "expand": list(_EXPAND)}
        path = f"/v1/payment_intents/{_id(payment_id)}/cancel"
        return to_provider_payment(self._intent("POST", path, params, idempotency_key))

    def refund(
        self,
        payment_id: str,
        *,
        amount: int,
        idempotency_key: str,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StripeProviderPayment:
        """Refund ``amount`` of a captured PaymentIntent, then report the payment as Stripe sees it."""
        if amount <= 0:
            raise PermanentProviderError("refund amount must be positive", code="invalid_amount")
        extra = dict(metadata or {})
        stripe_reason = REFUND_REASONS.get(reason) if reason else None
        if reason and stripe_reason is None:
            extra["cardops_reason"] = reason
        params = {
            "payment_intent": payment_id,
            "amount": amount,
            "reason": stripe_reason,
            "metadata": extra or None,
        }
        body = self._request("POST", "/v1/refunds", params, idempotency_key)
        refund = _parse(StripeRefund, body)
        # Stripe updates the charge's amount_refunded when it creates the refund, so a re-fetch
        # shows it; a failed re-fetch is retried by the caller with the same key (same refund).
        current = self.retrieve(payment_id)
        return current.model_copy(update={"refund_id": refund.id})

    # -- re-payment (SPEC §4) ----------------------------------------------------------------------

    def charge_again(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: int,
        currency: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> StripeProviderPayment:
        """A merchant-initiated charge on the saved card, captured at once.

        ``off_session`` tells Stripe the customer is not present (their consent is on file); a card
        that needs authentication answers 402 ``authentication_required``, a permanent error.
        """
        if amount <= 0:
            raise PermanentProviderError("charge amount must be positive", code="invalid_amount")
        params = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            "capture_method": "automatic",
            "metadata": dict(metadata),
            "expand": list(_EXPAND),
        }
        return to_provider_payment(self._intent("POST", "/v1/payment_intents", params, idempotency_key))

    # -- transport -------------------------------------------------------------------------------

    def _intent(
        self,
        method: Literal["GET", "POST"],
        path: str,
        params: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> StripePaymentIntent:
        return _parse(StripePaymentIntent, self._request(method, path, params, idempotency_key))

    def _request(
        self,
        method: Literal["GET", "POST"],
        path: str,
        params: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self._settings.api_key.get_secret_value()}",
            "Stripe-Version": self._settings.api_version,
            "Accept": "application/json",
            "User-Agent": "cardops/0.1",
        }
        url = f"{self._settings.base_url}{path}"
        body: str | None = None
        encoded = urlencode(form_encode(params))
        if method == "GET":
            url = f"{url}?{encoded}" if encoded else url
        else:
            if not idempotency_key:
                raise ValueError("every Stripe POST needs an idempotency key")
            headers["Idempotency-Key"] = idempotency_key
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = encoded
        attempt = 0
        last: ProviderError | None = None
        while True:
            error = self._attempt(
                method, url, body, headers, budget.attempt_timeout(self._timeout, "stripe", last)
            )
            if isinstance(error, dict):
                return error
            if not error.retry or attempt >= self._settings.max_retries:
                raise error.exception
            last = error.exception
            pause = self._backoff(attempt)
            if not budget.allows_pause(pause):
                raise budget.exceeded("stripe", last)
            self._sleep(pause)
            attempt += 1

    def _attempt(
        self, method: str, url: str, body: str | None, headers: Mapping[str, str], timeout: urllib3.Timeout
    ) -> dict[str, Any] | _Failure:
        self.attempts += 1
        try:
            response = self._pool.request(
                method, url, body=body, headers=dict(headers), timeout=timeout, retries=False
            )
        except urllib3.exceptions.NewConnectionError as exc:  # refused, DNS (a ConnectTimeoutError too)
            return _Failure(_unreachable("connection_error", exc))
        except urllib3.exceptions.TimeoutError as exc:
            return _Failure(_unreachable("timeout", exc))
        except urllib3.exceptions.HTTPError as exc:  # reset, protocol, TLS
            return _Failure(_unreachable("connection_error", exc))
        status = response.status
        payload = _json(response.data)
        if 200 <= status < 300:
            if payload is None:
                return _Failure(TransientProviderError("stripe answered 2xx without JSON", status=status))
            return payload
        return _failure(status, payload, response.headers.get("Stripe-Should-Retry"), response.headers)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half the window fixed, half random (as Stripe's libraries)."""
        ceiling = min(self._settings.backoff_cap, self._settings.backoff_base * (2**attempt))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))


def _unreachable(code: str, exc: Exception) -> TransientProviderError:
    return TransientProviderError(f"stripe {code.replace('_', ' ')}: {exc.__class__.__name__}", code=code)


class _Failure:
    def __init__(self, exception: ProviderError, *, retry: bool | None = None) -> None:
        self.exception = exception
        self.retry = exception.transient if retry is None else retry


def _failure(
    status: int, payload: dict[str, Any] | None, should_retry: str | None, headers: Mapping[str, str]
) -> _Failure:
    detail = _error_detail(payload)
    code = detail.code or detail.type or f"http_{status}"
    parts = [f"stripe {status}", detail.message or "no message"]
    if detail.decline_code:
        parts.append(f"decline_code={detail.decline_code}")
    request_id = headers.get("Request-Id")
    if request_id:
        parts.append(f"request_id={request_id}")
    message = ": ".join(parts[:2]) + "".join(f" ({p})" for p in parts[2:])
    if should_retry == "false":
        # Stripe stored this result under the idempotency key: the same request cannot succeed
        return _Failure(PermanentProviderError(message, code=code, status=status), retry=False)
    transient = should_retry == "true" or status in (409, 429) or status >= 500
    error_cls = TransientProviderError if transient else PermanentProviderError
    return _Failure(error_cls(message, code=code, status=status))


def _error_detail(payload: dict[str, Any] | None) -> StripeErrorDetail:
    raw = (payload or {}).get("error")
    if not isinstance(raw, dict):
        return StripeErrorDetail()
    try:
        return StripeErrorDetail.model_validate(raw)
    except ValidationError:
        return StripeErrorDetail()


def _json(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _parse(model: type[_M], body: dict[str, Any]) -> _M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise PermanentProviderError(f"unexpected Stripe response: {exc.errors()[0]['msg']}") from exc


def _id(value: str) -> str:
    if not value or "/" in value or "?" in value:
        raise PermanentProviderError(f"invalid Stripe id {value!r}", code="invalid_id")
    return quote(value, safe="")


def to_provider_payment(intent: StripePaymentIntent) -> StripeProviderPayment:
    """A PaymentIntent (``latest_charge`` expanded) as the provider-neutral view."""
    charge = intent.charge
    card = charge.card if charge else None
    return StripeProviderPayment(
        provider_payment_id=intent.id,
        facts=facts_from_payment_intent(intent),
        metadata=metadata_from(intent.metadata),
        customer_id=intent.customer,
        card_brand=card.brand if card else None,
        payment_method_id=intent.payment_method or (charge.payment_method if charge else None),
        stripe_status=intent.status,
    )
