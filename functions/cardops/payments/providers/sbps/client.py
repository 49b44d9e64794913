"""The SBPS credit-card API client behind ``PaymentProvider``: capture, cancel/refund, lookup.

Every call is one ``sps-api-request`` POSTed to the merchant's API URL over HTTP Basic (user: the
merchant id followed by the service id; password: the Basic password SBPS issues, by default the
hash key), signed with ``sps_hashcode`` (``protocol.check_code``). SBPS answers HTTP 200 with
``res_result`` OK or NG and an error code; an NG whose error type is SBPS's or a card network's
trouble is transient, any other NG is a refusal.

SBPS takes no idempotency key. What makes a retry safe instead:

- capture and cancel: a retried call whose first attempt went through is answered "already
  captured / already canceled"; the client then looks the payment up and answers the state it
  reached, as an idempotent API would;
- partial refund (部分返金) cannot be recognized that way, so it is never re-sent after a request
  that may have reached SBPS (a read timeout, a lost answer, a 5xx): the error goes up as
  transient and the refund stays requested for the caller to check before repeating. An NG answer
  (even a system error) means SBPS did nothing, so that one is retried for every request.

SBPS addresses a payment by its tracking id, cardops by the merchant's purchase id (``order_id``,
the provider payment id of SBPS payments). ``known`` looks up what cardops stored for a payment:
its tracking id and the amounts (SBPS's lookup reports statuses, not amounts).
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import urllib3
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cardops.payments.domain.payments import PaymentFacts, PaymentMetadata
from cardops.payments.providers import budget
from cardops.payments.providers.base import (
    PermanentProviderError,
    ProviderPayment,
    TransientProviderError,
)
from cardops.payments.providers.sbps import protocol
from cardops.payments.providers.sbps.protocol import Element, Response

_POOL = urllib3.PoolManager(num_pools=4, maxsize=8)
PROVIDER: Final = "sbps"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: failures that prove the request never reached SBPS (safe to send again whatever it was)
_NOT_SENT = (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError)


class SbpsSettings(BaseModel):
    """Where and as whom to call SBPS. Ids and keys come from Secrets Manager, never the environment."""

    model_config = ConfigDict(frozen=True)

    api_url: str
    merchant_id: str = Field(pattern=r"^[0-9]{5}$")
    service_id: str = Field(pattern=r"^[0-9]{3}$")
    hash_key: SecretStr
    #: SBPS issues the Basic password with the contract; empty means the hash key
    basic_password: SecretStr = SecretStr("")
    #: ``limit_second``: how long SBPS may take to accept the request (its default when empty)
    limit_second: int = Field(default=600, ge=1, le=9999)
    connect_timeout: float = Field(default=3.0, gt=0)
    read_timeout: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    backoff_base: float = Field(default=0.2, ge=0)


@dataclass(frozen=True)
class KnownPayment:
    """What cardops stored about an SBPS payment: SBPS's tracking id and the amounts."""

    tracking_id: str
    authorized_amount: int | None = None
    captured_amount: int = 0


class SbpsClient:
    name = PROVIDER

    def __init__(
        self,
        settings: SbpsSettings,
        *,
        known: Callable[[str], KnownPayment | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._known = known
        self._clock = clock
        self._sleep = sleep
        self._timeout = urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
        self.calls = 0

    # -- PaymentProvider ------------------------------------------------------------------------

    def retrieve(self, payment_id: str) -> ProviderPayment:
        known = self._require(payment_id)
        answer = self._call(
            protocol.LOOKUP,
            [
                *self._ids(known),
                ("response_info_type", "2"),
                ("pay_option_manage", [("cardbrand_return_flg", "1")]),
                ("encrypted_flg", "0"),
            ],
            resend=True,
        )
        return self._snapshot(payment_id, known, answer)

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> ProviderPayment:
        known = self._require(payment_id)
        captured = amount if amount is not None else known.authorized_amount
        option: list[Element] = [("pay_option_manage", [("amount", str(captured))])] if captured else []
        answer = self._operate(protocol.CAPTURE, known, option, done_when={protocol.ALREADY_CAPTURED})
        if answer is None:  # captured by an earlier attempt: SBPS's view is the answer
            return self.retrieve(payment_id)
        captured_at = _processed_at(answer, self._clock())
        return self._payment(payment_id, known, captured_amount=captured or 0, captured_at=captured_at)

    def cancel_authorization(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        """取消返金 on an uncaptured payment releases its authorization (与信取消)."""
        known = self._require(payment_id)
        if self._operate(protocol.CANCEL_REFUND, known, [], done_when=protocol.ALREADY_CANCELED) is None:
            return self.retrieve(payment_id)
        return self._payment(payment_id, known, canceled=True)

    def refund(
        self, payment_id: str, *, amount: int, idempotency_key: str, reason: str | None = None
    ) -> ProviderPayment:
        """The whole captured amount with 取消返金; a part of it with 部分返金 (never re-sent blind)."""
        known = self._require(payment_id)
        if known.captured_amount > 0 and amount >= known.captured_amount:
            self._operate(protocol.CANCEL_REFUND, known, [], done_when={protocol.ALREADY_REFUNDED})
        else:
            option: list[Element] = [("pay_option_manage", [("amount", str(amount))])]
            self._operate(protocol.PARTIAL_REFUND, known, option, resend=False)
        # the refund's facts reach the payment with SBPS's result notification (its transaction id
        # names the refund); the answer here only says SBPS accepted it
        return self._payment(payment_id, known, captured_amount=known.captured_amount)

    def _operate(
        self,
        function_id: str,
        known: KnownPayment,
        options: list[Element],
        *,
        resend: bool = True,
        done_when: Collection[str] = (),
    ) -> Response | None:
        """A state-changing request on one payment (processed now); None when it was already done."""
        elements = [*self._ids(known), ("processing_datetime", self._now()), *options]
        return self._call(function_id, elements, resend=resend, done_when=frozenset(done_when))

    # -- the wire ---------------------------------------------------------------------------------

    def _require(self, payment_id: str) -> KnownPayment:
        known = self._known(payment_id)
        if known is None or not known.tracking_id:
            raise PermanentProviderError(
                f"sbps: no SBPS tracking id is known for payment {payment_id} (its result notification "
                "has not arrived): SBPS cannot be called for it",
                code="unknown_tracking_id",
            )
        return known

    def _ids(self, known: KnownPayment) -> list[Element]:
        return [
            ("merchant_id", self.settings.merchant_id),
            ("service_id", self.settings.service_id),
            ("tracking_id", known.tracking_id),
        ]

    def _now(self) -> str:
        return protocol.sps_timestamp(self._clock())

    def _auth(self) -> str:
        user = f"{self.settings.merchant_id}{self.settings.service_id}"
        password = (
            self.settings.basic_password.get_secret_value() or self.settings.hash_key.get_secret_value()
        )
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _call(
        self,
        function_id: str,
        elements: list[Element],
        *,
        resend: bool,
        done_when: frozenset[str] = frozenset(),
    ) -> Response | None:
        """One request, retried on transient failures; ``None`` when SBPS says it was already done."""
        last_error: TransientProviderError | None = None
        for attempt in range(self.settings.max_attempts):
            if attempt:
                pause = self._backoff(attempt)
                if not budget.allows_pause(pause):
                    raise budget.exceeded(PROVIDER, last_error)
                self._sleep(pause)
            # the request date is part of the signed values: each attempt is signed anew
            body = protocol.build_request(
                function_id,
                [*elements, ("request_date", self._now()), ("limit_second", str(self.settings.limit_second))],
                self.settings.hash_key.get_secret_value(),
            )
            timeout = budget.attempt_timeout(self._timeout, PROVIDER, last_error)
            self.calls += 1
            try:
                response = _POOL.request(
                    "POST",
                    self.settings.api_url,
                    body=body,
                    headers={"Authorization": self._auth(), "Content-Type": "text/xml; charset=Shift_JIS"},
                    timeout=timeout,
                    retries=False,
                )
            except urllib3.exceptions.HTTPError as exc:
                last_error = TransientProviderError(f"sbps unreachable: {exc.__class__.__name__}")
                if not resend and not isinstance(
                    exc, urllib3.exceptions.ConnectTimeoutError | urllib3.exceptions.NewConnectionError
                ):
                    raise last_error from exc  # it may have reached SBPS: never re-sent blind
                continue
            if response.status in RETRYABLE_STATUSES:
                last_error = TransientProviderError(f"sbps: HTTP {response.status}", status=response.status)
                if not resend:
                    raise last_error
                continue
            if response.status != 200:
                raise PermanentProviderError(
                    f"sbps: HTTP {response.status} (check the merchant id, service id and Basic password)",
                    code=str(response.status),
                    status=response.status,
                )
            try:
                answer = protocol.parse_response(response.data)
            except protocol.ProtocolError as exc:
                raise TransientProviderError(f"sbps: unreadable answer ({exc})", code="bad_answer") from exc
            if answer.ok:
                return answer
            if answer.error_code[:3] == "101" and answer.error_type in done_when:
                return None
            message = f"sbps: {function_id} refused with {answer.error_code or 'NG'}"
            if answer.transient:
                # an NG answer means SBPS did nothing: sending it again is safe for every request
                last_error = TransientProviderError(message, code=answer.error_code)
                continue
            raise PermanentProviderError(message, code=answer.error_code)
        assert last_error is not None
        raise last_error

    def _backoff(self, attempt: int) -> float:
        ceiling = self.settings.backoff_base * (2**attempt)
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))

    # -- answers as facts -------------------------------------------------------------------------

    def _snapshot(self, payment_id: str, known: KnownPayment, answer: Response | None) -> ProviderPayment:
        values = answer.values if answer else {}
        status = protocol.PAYMENT_STATUS.get(values.get("res_pay_method_info/payment_status", ""))
        if status is None:
            raise TransientProviderError(
                f"sbps: lookup of {payment_id} carries no known payment_status", code="bad_answer"
            )
        # a capture cardops missed: without an amount SBPS captures what was authorized
        taken = status in ("captured", "refunded")
        captured = (known.captured_amount or known.authorized_amount or 0) if taken else 0
        brand = values.get("res_pay_method_info/cardbrand_code") or None
        return self._payment(
            payment_id, known, card_brand=brand, captured_amount=captured, canceled=status == "canceled"
        )

    @staticmethod
    def _payment(
        payment_id: str, known: KnownPayment, *, card_brand: str | None = None, **facts: Any
    ) -> ProviderPayment:
        """What SBPS's answer proves, with the authorized amount cardops holds (SBPS does not say it)."""
        return ProviderPayment(
            provider_payment_id=payment_id,
            facts=PaymentFacts(currency="JPY", authorized_amount=known.authorized_amount, **facts),
            metadata=PaymentMetadata(),
            card_brand=card_brand,
        )


def _processed_at(answer: Response, fallback: datetime) -> datetime:
    text = answer.values.get("res_process_date") or answer.values.get("res_date") or ""
    try:
        return protocol.parse_timestamp(text)
    except protocol.ProtocolError:
        return fallback
