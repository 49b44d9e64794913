"""Stripe's API through the official SDK (``stripe.StripeClient``), mapped to ``PaymentFacts``.

The SDK sends the requests, retries them (``max_network_retries``: connection errors, 409, 5xx and
whatever ``Stripe-Should-Retry`` says, reusing the idempotency key) and raises its typed errors;
this module pins the API version, gives every POST an explicit idempotency key, maps the typed
errors to ``TransientProviderError``/``PermanentProviderError`` and the objects to facts (through
``events``, the same mapping the webhooks use). One subclass of the SDK's ``RequestsClient`` fits the
SDK into the admin request's time budget (``budget``): shorter socket timeouts near the deadline and
no retry that cannot finish in time.

Imported only by the functions that call Stripe (``registry``); the webhook function never loads
the SDK (its signature check is ``domain.webhook_signatures``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

import requests
import stripe
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from stripe.params import PaymentIntentCaptureParams, PaymentIntentCreateParams, RefundCreateParams

from cardops.payments.providers import budget
from cardops.payments.providers.base import (
    PermanentProviderError,
    ProviderError,
    ProviderPayment,
    TransientProviderError,
)
from cardops.payments.providers.stripe.events import (
    StripeCustomer,
    StripePaymentIntent,
    StripePaymentMethod,
    StripeRefund,
    facts_from_payment_intent,
    metadata_from,
)

_M = TypeVar("_M", bound=BaseModel)

DEFAULT_API_BASE: Final = "https://api.stripe.com"
#: The API version every request pins: the one the pinned SDK (``stripe`` 16.1) is generated for,
#: so the SDK's types and Stripe's answers agree. A lock bump that changes it fails a unit test.
API_VERSION: Final = "2026-10-28.endive"
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
#: Expansions on every PaymentIntent answer: the charge carries the card (``capture_before``,
#: brand) and, expanded, its refunds (not returned otherwise since API version 2022-11-15).
_EXPAND: Final = ["latest_charge", "latest_charge.refunds"]

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
    api_version: str = API_VERSION
    connect_timeout: float = Field(default=3.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    #: the SDK's ``max_network_retries``: attempts after the first
    max_retries: int = Field(default=3, ge=0, le=10)
    #: the retry pause: ``min(cap, base × 2^(n−1))``, half of it jittered (the SDK's own formula)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_cap: float = Field(default=5.0, ge=0)

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


class BudgetedHttpClient(stripe.RequestsClient):
    """The SDK's requests transport, inside the caller's time budget, counting attempts.

    The socket timeouts of an attempt are the settings' ones, shortened to what the budget leaves
    (kept per thread: the sandbox serves concurrent requests with one client). A retry whose pause
    would not leave time for another attempt is not made: the budget's error is raised instead.
    """

    def __init__(self, settings: StripeSettings) -> None:
        self._settings = settings
        self._local = threading.local()
        super().__init__(timeout=(settings.connect_timeout, settings.read_timeout))
        #: HTTP attempts made, retries included (benchmarks count provider calls per operation)
        self.attempts = 0

    # RequestsClient reads ``self._timeout`` for each request: answer the current thread's value
    @property
    def _timeout(self) -> tuple[float, float]:
        current: tuple[float, float] | None = getattr(self._local, "timeout", None)
        return current or (self._settings.connect_timeout, self._settings.read_timeout)

    @_timeout.setter
    def _timeout(self, value: Any) -> None:
        """The SDK's constructor sets the default; the settings already hold it."""

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> Any:
        left = budget.remaining()
        connect, read = self._settings.connect_timeout, self._settings.read_timeout
        if left is not None:
            if left < budget.MIN_ATTEMPT_SECONDS:
                raise budget.exceeded("stripe", None)
            connect, read = min(connect, left), min(read, left)
        self._local.timeout = (connect, read)
        self.attempts += 1
        return super().request(method, url, headers, post_data)

    def _should_retry(
        self,
        response: Any,
        api_connection_error: stripe.APIConnectionError | None,
        num_retries: int,
        max_network_retries: int | None,
    ) -> bool:
        retry = bool(super()._should_retry(response, api_connection_error, num_retries, max_network_retries))
        if retry and not budget.allows_pause(self._backoff_ceiling(num_retries + 1)):
            last: ProviderError = (
                provider_error(api_connection_error)
                if api_connection_error is not None
                else TransientProviderError(f"stripe answered HTTP {response[1]}")
            )
            raise budget.exceeded("stripe", last)
        return retry

    def _backoff_ceiling(self, num_retries: int) -> float:
        """The longest pause before retry ``num_retries`` (1, 2, …)."""
        window = self._settings.backoff_base * 2.0 ** max(num_retries - 1, 0)
        return min(self._settings.backoff_cap, window)

    def _sleep_time_seconds(self, num_retries: int) -> float:
        """The SDK's formula (half of the window fixed, half jittered) on our settings."""
        return float(self._add_jitter_time(self._backoff_ceiling(num_retries)))


class StripeClient:
    """Retrieve, capture, cancel, refund and charge again, mapped to domain facts."""

    name = "stripe"

    def __init__(self, settings: StripeSettings, *, http_client: BudgetedHttpClient | None = None) -> None:
        self._settings = settings
        self.http = http_client or BudgetedHttpClient(settings)
        self.sdk = stripe.StripeClient(
            settings.api_key.get_secret_value(),
            stripe_version=settings.api_version,
            base_addresses={"api": settings.base_url},
            max_network_retries=settings.max_retries,
            http_client=self.http,
        )

    @property
    def attempts(self) -> int:
        return self.http.attempts

    # -- PaymentProvider -------------------------------------------------------------------------

    def retrieve(self, payment_id: str) -> StripeProviderPayment:
        intent = self._call(
            lambda: self.sdk.v1.payment_intents.retrieve(_id(payment_id), params={"expand": _EXPAND})
        )
        return to_provider_payment(_parse(StripePaymentIntent, intent))

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> StripeProviderPayment:
        """Capture all (``amount=None``) or part; Stripe releases the uncaptured rest."""
        if amount is not None and amount <= 0:
            raise PermanentProviderError("capture amount must be positive", code="invalid_amount")
        params: PaymentIntentCaptureParams = {"expand": _EXPAND}
        if amount is not None:
            params["amount_to_capture"] = amount
        intent = self._call(
            lambda: self.sdk.v1.payment_intents.capture(
                _id(payment_id), params=params, options=_key(idempotency_key)
            )
        )
        return to_provider_payment(_parse(StripePaymentIntent, intent))

    def cancel_authorization(self, payment_id: str, *, idempotency_key: str) -> StripeProviderPayment:
        """Release an uncaptured authorization; ``abandoned`` is Stripe's reason for "not established"."""
        intent = self._call(
            lambda: self.sdk.v1.payment_intents.cancel(
                _id(payment_id),
                params={"cancellation_reason": "abandoned", "expand": _EXPAND},
                options=_key(idempotency_key),
            )
        )
        return to_provider_payment(_parse(StripePaymentIntent, intent))

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
        params: RefundCreateParams = {"payment_intent": _id(payment_id), "amount": amount}
        if stripe_reason:
            params["reason"] = stripe_reason
        if extra:
            params["metadata"] = extra
        created = self._call(lambda: self.sdk.v1.refunds.create(params=params, options=_key(idempotency_key)))
        refund = _parse(StripeRefund, created)
        # Stripe updates the charge's amount_refunded when it creates the refund, so a re-fetch
        # shows it; a failed re-fetch is retried by the caller with the same key (same refund).
        current = self.retrieve(payment_id)
        return current.model_copy(update={"refund_id": refund.id})

    # -- re-payment (SPEC §4) ----------------------------------------------------------------------

    def customer(self, customer_id: str) -> StripeCustomer | None:
        """The customer with its default payment method expanded; ``None`` once it is deleted."""
        try:
            found = self._call(
                lambda: self.sdk.v1.customers.retrieve(
                    _id(customer_id), params={"expand": ["invoice_settings.default_payment_method"]}
                )
            )
        except PermanentProviderError as exc:
            if exc.status == 404:
                return None
            raise
        return _parse(StripeCustomer, found)

    def payment_method(self, payment_method_id: str) -> StripePaymentMethod | None:
        try:
            found = self._call(lambda: self.sdk.v1.payment_methods.retrieve(_id(payment_method_id)))
        except PermanentProviderError as exc:
            if exc.status == 404:
                return None
            raise
        return _parse(StripePaymentMethod, found)

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
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": _id(customer_id),
            "payment_method": _id(payment_method_id),
            "off_session": True,
            "confirm": True,
            "capture_method": "automatic",
            "metadata": dict(metadata),
            "expand": _EXPAND,
        }
        intent = self._call(
            lambda: self.sdk.v1.payment_intents.create(params=params, options=_key(idempotency_key))
        )
        return to_provider_payment(_parse(StripePaymentIntent, intent))

    # -- the SDK's errors as ours ------------------------------------------------------------------

    def _call(self, call: Any) -> stripe.StripeObject:
        try:
            result: stripe.StripeObject = call()
        except stripe.StripeError as exc:
            raise provider_error(exc) from exc
        return result


def _key(idempotency_key: str) -> stripe.RequestOptions:
    if not idempotency_key:
        raise ValueError("every Stripe POST needs an idempotency key")
    return {"idempotency_key": idempotency_key}


def provider_error(exc: stripe.StripeError) -> ProviderError:
    """One of the SDK's typed errors as a transient or permanent provider error.

    Transient: connection failures and timeouts, 409, 429 and 5xx — unless Stripe answered
    ``Stripe-Should-Retry: false`` (it stored the result under the key: the same request cannot
    succeed). Permanent: card errors, invalid requests, authentication, idempotency conflicts.
    """
    if isinstance(exc, stripe.APIConnectionError):
        timed_out = isinstance(exc.__cause__, requests.exceptions.Timeout) and not isinstance(
            exc.__cause__, requests.exceptions.ConnectTimeout
        )
        code = "timeout" if timed_out else "connection_error"
        return TransientProviderError(f"stripe {code.replace('_', ' ')}", code=code)
    status = exc.http_status
    error = exc.error
    code = (error.code if error else None) or (error.type if error else None) or f"http_{status}"
    message = f"stripe {status}: {(error.message if error else None) or exc.user_message or 'no message'}"
    details = [f"decline_code={error.decline_code}"] if error and error.decline_code else []
    if exc.request_id:
        details.append(f"request_id={exc.request_id}")
    message += "".join(f" ({d})" for d in details)
    should_retry = (exc.headers or {}).get("stripe-should-retry")
    if should_retry == "false":
        return PermanentProviderError(message, code=code, status=status)
    transient = (
        should_retry == "true"
        or isinstance(exc, stripe.RateLimitError)
        or (status is not None and (status in (409, 429) or status >= 500))
        or (status is None and isinstance(exc, stripe.APIError))  # an answer that is not Stripe's JSON
    )
    return (TransientProviderError if transient else PermanentProviderError)(
        message, code=code, status=status
    )


def _parse(model: type[_M], obj: stripe.StripeObject) -> _M:
    try:
        return model.model_validate(obj.to_dict())
    except ValidationError as exc:
        raise PermanentProviderError(f"unexpected Stripe response: {exc.errors()[0]['msg']}") from exc


def _id(value: str) -> str:
    """An object id as a path segment: nothing that could rewrite the URL."""
    if not value or not value.replace("_", "").isalnum() or len(value) > 255:
        raise PermanentProviderError(f"invalid Stripe id {value[:64]!r}", code="invalid_id")
    return value


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
