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

- a charge on the customer's stored card (re-payment, ``charge_stored_card``): the purchase id is
  the idempotency key. The caller derives it from its request, SBPS refuses a second authorization
  under a purchase id it holds, and the client goes on from what a lookup shows (commit, capture).

SBPS addresses a payment by its tracking id, cardops by the merchant's purchase id (``order_id``,
the provider payment id of SBPS payments). ``known`` looks up what cardops stored for a payment:
its tracking id and the amounts (SBPS's lookup reports statuses, not amounts).
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
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
    #: error types SBPS answers an authorization under a purchase id it already holds with. The
    #: public error table names 96 (2重リクエストエラー) but not which type a reused purchase id
    #: gets on a given contract: configuration (``SBPS_DUPLICATE_ORDER_ERRORS``)
    duplicate_order_errors: frozenset[str] = frozenset({"96"})
    #: error types a 顧客決済情報参照 answers when no card is kept under the customer id (besides
    #: any NG about the customer id itself, item 003): by default 83 (GW レコード検索エラー, "no
    #: record"); not public per contract either: ``SBPS_NO_STORED_CARD_ERRORS``
    no_stored_card_errors: frozenset[str] = frozenset({"83"})


@dataclass(frozen=True)
class StoredCard:
    """The card SBPS keeps under a customer id (顧客決済情報): its brand code and ``YYYYMM`` expiry."""

    brand_code: str | None
    expires: str | None


#: the ``item_id`` of a re-payment's authorization (SBPS requires one; cardops sells no items)
REPAYMENT_ITEM: Final = "cardops-repayment"
#: ``free1``–``free3`` hold at most 20 characters; a longer value is left out of the request
_FREE_MAX = 20


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
        return self._snapshot(payment_id, known, self._lookup(known))

    def _lookup(self, known: KnownPayment) -> Response | None:
        return self._call(
            protocol.LOOKUP,
            [
                *self._ids(known),
                ("response_info_type", "2"),
                ("pay_option_manage", [("cardbrand_return_flg", "1")]),
                ("encrypted_flg", "0"),
            ],
            resend=True,
        )

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

    # -- the customer's stored card (顧客決済情報): re-payment ------------------------------------

    def stored_card(self, cust_code: str) -> StoredCard | None:
        """顧客決済情報参照: the card SBPS keeps under ``cust_code``; ``None`` when it keeps none."""
        answer = self._call(
            protocol.CUSTOMER_LOOKUP,
            [
                *self._merchant(),
                ("cust_code", cust_code),
                ("sps_cust_info_return_flg", "1"),
                ("response_info_type", "2"),  # the last 4 digits and the expiry, never the number
                ("pay_option_manage", [("cardbrand_return_flg", "1")]),
                ("encrypted_flg", "0"),
            ],
            resend=True,
            none_when=lambda answer: (
                answer.item == protocol.ITEM_CUSTOMER
                or answer.error_type in self.settings.no_stored_card_errors
            ),
        )
        if answer is None:
            return None
        values = answer.values
        return StoredCard(
            brand_code=values.get("res_pay_method_info/cardbrand_code") or None,
            expires=values.get("res_pay_method_info/cc_expiration") or None,
        )

    def charge_stored_card(
        self, *, order_id: str, cust_code: str, amount: int, metadata: PaymentMetadata
    ) -> ProviderPayment:
        """決済要求 on the stored card, コミット, 売上要求: one payment under ``order_id``, captured.

        A retry sends the same ``order_id``: SBPS refuses it as a duplicate instead of authorizing
        again, and the client looks the payment up (by the tracking id its result notification
        brought to cardops) and finishes what the earlier attempt left: commit, capture, or nothing.
        """
        free = [_free(value) for value in (metadata.store_id, metadata.reservation_id, metadata.visit_date)]
        answer = self._call(
            protocol.AUTHORIZE,
            [
                *self._merchant(),
                ("cust_code", cust_code),
                ("order_id", order_id),
                ("item_id", REPAYMENT_ITEM),
                ("item_name", ""),
                ("tax", ""),
                ("amount", str(amount)),
                ("free1", free[0]),
                ("free2", free[1]),
                ("free3", free[2]),
                ("order_rowno", ""),
                ("sps_cust_info_return_flg", "1"),
                ("pay_method_info", [("dealings_type", "10")]),  # 一括 (one payment)
                ("pay_option_manage", [("cust_manage_flg", "0"), ("cardbrand_return_flg", "1")]),
                ("encrypted_flg", "0"),
            ],
            resend=True,  # safe: a second authorization under the same purchase id is refused
            none_when=lambda answer: answer.error_type in self.settings.duplicate_order_errors,
        )
        if answer is None:
            known, status, committed, brand = self._earlier_attempt(order_id, amount)
        else:
            tracking = answer.values.get("res_tracking_id", "")
            if not tracking:
                raise TransientProviderError(
                    f"sbps: {order_id} authorized without a tracking id", code="bad_answer"
                )
            known = KnownPayment(tracking_id=tracking, authorized_amount=amount)
            status, committed = "authorized", False
            brand = answer.values.get("res_pay_method_info/cardbrand_code") or None
        captured_at = self._clock()
        if status == "authorized":
            if not committed:
                self._operate(protocol.COMMIT, known, [])
            option: list[Element] = [("pay_option_manage", [("amount", str(amount))])]
            done = {protocol.ALREADY_CAPTURED, protocol.AUTO_CAPTURED}
            captured = self._operate(protocol.CAPTURE, known, option, done_when=done)
            captured_at = _processed_at(captured, captured_at) if captured is not None else captured_at
        return ProviderPayment(
            provider_payment_id=order_id,
            facts=PaymentFacts(
                currency="JPY", authorized_amount=amount, captured_amount=amount, captured_at=captured_at
            ),
            metadata=metadata.model_copy(
                update={"provider_reference": known.tracking_id, "customer_reference": cust_code}
            ),
            card_brand=brand,
        )

    def _earlier_attempt(self, order_id: str, amount: int) -> tuple[KnownPayment, str, bool, str | None]:
        """The payment an earlier attempt authorized under ``order_id``: its state at SBPS."""
        known = self._tracked(order_id)
        if known is None:
            raise TransientProviderError(
                f"sbps: {order_id} was authorized by an earlier attempt and its result notification "
                "has not arrived (no tracking id yet): try again later",
                code="unknown_tracking_id",
            )
        known = replace(known, authorized_amount=amount)
        values = (self._lookup(known) or Response("", ok=False)).values
        status = _status(order_id, values)
        if status in ("canceled", "refunded"):
            raise PermanentProviderError(
                f"sbps: the re-payment {order_id} was {status} at SBPS", code=f"repayment_{status}"
            )
        committed = values.get("res_pay_method_info/commit_status") == "1"
        return known, status, committed, values.get("res_pay_method_info/cardbrand_code") or None

    # -- the wire ---------------------------------------------------------------------------------

    def _tracked(self, payment_id: str) -> KnownPayment | None:
        """What cardops stored of the payment, when it knows SBPS's tracking id for it."""
        known = self._known(payment_id)
        return known if known is not None and known.tracking_id else None

    def _require(self, payment_id: str) -> KnownPayment:
        known = self._tracked(payment_id)
        if known is None:
            raise PermanentProviderError(
                f"sbps: no SBPS tracking id is known for payment {payment_id} (its result notification "
                "has not arrived): SBPS cannot be called for it",
                code="unknown_tracking_id",
            )
        return known

    def _merchant(self) -> list[Element]:
        return [("merchant_id", self.settings.merchant_id), ("service_id", self.settings.service_id)]

    def _ids(self, known: KnownPayment) -> list[Element]:
        return [*self._merchant(), ("tracking_id", known.tracking_id)]

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
        none_when: Callable[[Response], bool] | None = None,
    ) -> Response | None:
        """One request, retried on transient failures; ``None`` when SBPS says it was already done
        (a credit-card error type in ``done_when``) or ``none_when`` takes the NG as an answer."""
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
            if none_when is not None and none_when(answer):
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
        status = _status(payment_id, values)
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


def _status(payment_id: str, values: dict[str, str]) -> str:
    """The ``payment_status`` a lookup answered, by name (``protocol.PAYMENT_STATUS``)."""
    status = protocol.PAYMENT_STATUS.get(values.get("res_pay_method_info/payment_status", ""))
    if status is None:
        raise TransientProviderError(
            f"sbps: lookup of {payment_id} carries no known payment_status", code="bad_answer"
        )
    return status


def _free(value: object) -> str:
    """A ``free1``–``free3`` value: single-byte text of at most 20 characters, else left out."""
    text = "" if value is None else str(value)
    return text if text.isascii() and len(text) <= _FREE_MAX else ""


def _processed_at(answer: Response, fallback: datetime) -> datetime:
    text = answer.values.get("res_process_date") or answer.values.get("res_date") or ""
    try:
        return protocol.parse_timestamp(text)
    except protocol.ProtocolError:
        return fallback
