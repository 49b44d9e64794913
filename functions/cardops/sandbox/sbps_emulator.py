"""A local emulation of SB Payment Service's credit-card XML API and its result notifications.

``POST /api/xmlapi.do`` takes an ``sps-api-request`` (Shift_JIS XML) over HTTP Basic (merchant id
followed by service id; the Basic password), checks its ``sps_hashcode`` and answers an
``sps-api-response`` in SBPS's shape: ``res_result`` OK or NG with SBPS's error codes (payment
method ``101``, error type, item). It holds authorizations and answers:

| function id        | what                                   | NG when                                 |
| ------------------ | -------------------------------------- | --------------------------------------- |
| ``ST01-00131-101`` | 決済要求 on the card kept under a      | purchase id held (96/004), no card kept |
|                    | ``cust_code`` (re-payment)             | (03/200), amount (05/008)               |
| ``MG02-00104-101`` | 顧客決済情報参照 (the kept card)        | no card under the ``cust_code`` (83/003) |
| ``ST02-00101-101`` | コミット (confirms an authorization)   | unknown tracking id                     |
| ``ST02-00201-101`` | 売上要求 (capture, optional amount)    | not committed (39), captured (41),      |
|                    |                                        | canceled (40), amount (79)              |
| ``ST02-00303-101`` | 取消返金 (release or refund it all)    | canceled (52), refunded (46)            |
| ``ST02-00307-101`` | 部分返金 (refund a part)               | not captured (K0), over the rest (K1)   |
| ``MG01-00101-101`` | 決済結果参照 (lookup)                   | unknown tracking id                     |

After every change it posts a signed result notification (``notifications.sign``) to the
sandbox's ``/webhooks/sbps``, in Shift_JIS (or UTF-8, ``notify_encoding``), and resends it while
the answer is 5xx, as SBPS does.

Sandbox-only routes:

- ``POST /_sandbox/authorizations`` with JSON ``order_id``, ``amount``, ``free1``…``free3``: a
  customer's authorization (与信), as the purchase page would make it; answers its tracking id.
  With ``cust_code`` (and ``cust_manage_flg`` ``"1"``: keep the card, optionally its
  ``cardbrand_code`` and ``cc_expiration`` ``YYYYMM``) SBPS keeps the card under that customer id
  (顧客決済情報), and the result notification carries the ``cust_code``;
- ``GET /_sandbox/customers/{cust_code}``: the card kept under a customer id;
- ``GET /_sandbox/payments/{order_id}``: the emulator's view (status, amounts, operations);
- ``GET /_sandbox/faults``: the faults not yet met;
- ``POST /_sandbox/faults`` with ``{"operation": "capture|cancel|refund|lookup|charge|customer", "mode":
  "timeout|server_error|system_error|decline|lost", "count": N}``: the next N such calls hang past
  a client's timeout, answer HTTP 503, answer NG with a system error (type 90: retry), NG with a
  refusal (type 42: the capture period passed), or take effect and then hang (the answer is
  lost); ``{"operation": "notify", "mode": "drop"}`` loses the next N result notifications (what
  the payments janitor repairs).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from cardops.payments.providers.sbps import notifications, protocol
from cardops.sandbox.loopback import EmulatorServer, Faults, send

Clock = Callable[[], datetime]
API_PATH = "/api/xmlapi.do"
OPERATIONS = {
    protocol.AUTHORIZE: "charge",
    protocol.CUSTOMER_LOOKUP: "customer",
    protocol.CAPTURE: "capture",
    protocol.CANCEL_REFUND: "cancel",
    protocol.PARTIAL_REFUND: "refund",
    protocol.LOOKUP: "lookup",
    protocol.COMMIT: "commit",
}
FAULT_MODES = ("timeout", "server_error", "system_error", "decline", "lost")
FAULT_OPERATIONS = ("capture", "cancel", "refund", "lookup", "charge", "customer", "notify")
#: the operations that address no payment (no tracking id): a new authorization, a customer
UNADDRESSED = frozenset({"charge", "customer"})


class SbpsNg(Exception):
    """An NG answer: ``res_err_code`` = payment method (3) + error type (2) + item (3)."""

    def __init__(self, error_type: str, item: str = "999", method: str = "101") -> None:
        super().__init__(f"{method}{error_type}{item}")
        self.code = f"{method}{error_type}{item}"


@dataclass
class Authorization:
    order_id: str
    tracking_id: str
    amount: int
    free: tuple[str, str, str]
    #: ``payment_status`` of a lookup: 1 authorized, 2 captured, 3 canceled, 4 refunded
    status: str = "1"
    committed: bool = True
    #: the merchant's customer id the purchase named (carried by the result notifications)
    cust_code: str = ""
    captured_amount: int = 0
    refunded_amount: int = 0
    operations: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "tracking_id": self.tracking_id,
            "cust_code": self.cust_code,
            "status": protocol.PAYMENT_STATUS[self.status],
            "amount": self.amount,
            "captured_amount": self.captured_amount,
            "refunded_amount": self.refunded_amount,
            "operations": list(self.operations),
        }


@dataclass
class StoredCard:
    """A card SBPS keeps under a customer id (顧客決済情報)."""

    brand: str = "V"
    expires: str = "203012"
    last4: str = "0000"

    def view(self) -> dict[str, Any]:
        return {"cardbrand_code": self.brand, "cc_expiration": self.expires, "last4": self.last4}


class SbpsEmulator(EmulatorServer):
    def __init__(
        self,
        *,
        merchant_id: str,
        service_id: str,
        api_hash_key: str,
        notify_hash_key: str,
        basic_password: str = "",
        webhook_url: str | None = None,
        notify_encoding: str = protocol.ENCODING,
        clock: Clock | None = None,
        port: int = 0,
    ) -> None:
        self.merchant_id, self.service_id = merchant_id, service_id
        self.api_hash_key, self.notify_hash_key = api_hash_key, notify_hash_key
        self.basic_password = basic_password or api_hash_key
        self.webhook_url = webhook_url
        self.notify_encoding = notify_encoding
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.payments: dict[str, Authorization] = {}
        self.customers: dict[str, StoredCard] = {}
        self.faults = Faults()
        self.requests: list[str] = []
        self.notifications: list[list[tuple[str, str]]] = []
        self._by_tracking: dict[str, Authorization] = {}
        self._numbers = itertools.count(int(time.time()) % 10_000_000 * 1000)
        self._lock = threading.RLock()
        super().__init__(name="sbps-emulator", port=port)

    @property
    def api_url(self) -> str:
        return f"{self.url}{API_PATH}"

    # ---- the customer's side ----------------------------------------------------------------
    def authorize(
        self,
        order_id: str,
        amount: int,
        free: tuple[str, str, str] = ("", "", ""),
        *,
        cust_code: str = "",
        keep_card: StoredCard | None = None,
    ) -> Authorization:
        """A customer's authorization (与信), as SBPS's purchase page makes it; ``keep_card``: the
        purchase asked SBPS to keep the card under ``cust_code`` (``cust_manage_flg`` 1)."""
        if keep_card is not None and not cust_code:
            raise ValueError("a card is kept under a cust_code")
        with self._lock:
            if keep_card is not None:
                self.customers[cust_code] = keep_card
            return self._new_payment(order_id, amount, free, cust_code=cust_code, committed=True)

    def _new_payment(
        self, order_id: str, amount: int, free: tuple[str, str, str], *, cust_code: str, committed: bool
    ) -> Authorization:
        if order_id in self.payments:
            raise ValueError(f"order {order_id} already exists")
        tracking = f"{next(self._numbers):014d}"[-14:]
        payment = Authorization(
            order_id=order_id,
            tracking_id=tracking,
            amount=amount,
            free=free,
            committed=committed,
            cust_code=cust_code,
        )
        self.payments[order_id] = payment
        self._by_tracking[tracking] = payment
        self._record(payment, "authorized", amount)
        return payment

    # ---- HTTP -------------------------------------------------------------------------------
    def _dispatch(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path = urlsplit(request.path).path
        try:
            if path == "/_sandbox/faults" and request.command == "GET":
                return self._json(request, 200, {"faults": self.faults})
            if path == "/_sandbox/faults" and request.command == "POST":
                self._set_fault(json.loads(body or b"{}"))
                return self._json(request, 200, {"faults": self.faults})
            if path == "/_sandbox/authorizations" and request.command == "POST":
                spec = json.loads(body or b"{}")
                keep = str(spec.get("cust_manage_flg", "0")) == "1"
                made = self.authorize(
                    str(spec["order_id"]),
                    int(spec["amount"]),
                    (str(spec.get("free1", "")), str(spec.get("free2", "")), str(spec.get("free3", ""))),
                    cust_code=str(spec.get("cust_code", "")),
                    keep_card=StoredCard(
                        brand=str(spec.get("cardbrand_code", "V")),
                        expires=str(spec.get("cc_expiration", "203012")),
                    )
                    if keep
                    else None,
                )
                return self._json(request, 200, made.view())
            if path.startswith("/_sandbox/customers/") and request.command == "GET":
                card = self.customers.get(unquote(path.rsplit("/", 1)[-1]))
                if card is None:
                    return self._json(request, 404, {"error": "no card kept under this cust_code"})
                return self._json(request, 200, card.view())
            if path.startswith("/_sandbox/payments/") and request.command == "GET":
                found = self.payments.get(unquote(path.rsplit("/", 1)[-1]))
                if found is None:
                    return self._json(request, 404, {"error": "no such order"})
                return self._json(request, 200, found.view())
        except (ValueError, KeyError, TypeError) as exc:
            return self._json(request, 400, {"error": str(exc)})
        if path != API_PATH or request.command != "POST":
            return send(request, 404, "text/plain", b"not found")
        if not self._authorized(request.headers.get("Authorization")):
            return send(request, 401, "text/html; charset=Shift_JIS", b"<html>401 Unauthorized</html>")
        try:
            status, answer = self._api(body)
        except TimeoutError:
            time.sleep(20)  # longer than a client's read timeout
            status, answer = 504, b""
        send(request, status, "text/xml; charset=Shift_JIS", answer)

    @staticmethod
    def _json(request: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        send(request, status, "application/json; charset=utf-8", json.dumps(payload).encode())

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.merchant_id}{self.service_id}"
        return hmac.compare_digest(user.encode(), expected.encode()) & hmac.compare_digest(
            password.encode(), self.basic_password.encode()
        )

    def _api(self, body: bytes) -> tuple[int, bytes]:
        try:
            function_id, values, presented = protocol.parse_request(body)
        except protocol.ProtocolError:
            return 200, self._ng("", SbpsNg("00", "000", "999"))
        fields = dict(values)
        fault: str | None = None
        with self._lock:
            self.requests.append(function_id)
            try:
                operation = OPERATIONS.get(function_id)
                if operation is None:
                    raise SbpsNg("02", "000", "999")
                expected = protocol.check_code([value for _, value in values], self.api_hash_key)
                if not hmac.compare_digest(expected.encode(), presented.lower().encode()):
                    raise SbpsNg("09", "025", "999")
                if (fields.get("merchant_id"), fields.get("service_id")) != (
                    self.merchant_id,
                    self.service_id,
                ):
                    raise SbpsNg("14", "001", "999")
                fault = self._fault(operation)
                if fault == "server_error":
                    return 503, b"<html>503 Service Unavailable</html>"
                if operation in UNADDRESSED:
                    answer = getattr(self, f"_{operation}")(fields)
                else:
                    payment = self._by_tracking.get(fields.get("tracking_id", ""))
                    if payment is None:
                        raise SbpsNg("12", "027", "999")
                    answer = getattr(self, f"_{operation}")(payment, fields)
            except SbpsNg as ng:
                return 200, self._ng(function_id, ng)
        if fault == "lost":
            raise TimeoutError(function_id)  # done at SBPS, but its answer never arrives
        return 200, protocol.render_response(function_id, answer)

    def _ng(self, function_id: str, ng: SbpsNg) -> bytes:
        now = protocol.sps_timestamp(self.clock())
        return protocol.render_response(
            function_id or "UNKNOWN",
            [
                ("res_result", "NG"),
                ("res_sps_transaction_id", ""),
                ("res_err_code", ng.code),
                ("res_date", now),
            ],
        )

    def _ok(self, transaction: str) -> list[protocol.Element]:
        now = protocol.sps_timestamp(self.clock())
        return [
            ("res_result", "OK"),
            ("res_sps_transaction_id", transaction),
            ("res_process_date", now),
            ("res_err_code", ""),
            ("res_date", now),
        ]

    # ---- faults -----------------------------------------------------------------------------
    def _set_fault(self, spec: dict[str, Any]) -> None:
        operation, mode, count = str(spec.get("operation")), str(spec.get("mode")), int(spec.get("count", 1))
        if operation not in FAULT_OPERATIONS:
            raise ValueError(f"operation must be one of {', '.join(FAULT_OPERATIONS)}")
        if (operation == "notify") != (mode == "drop"):
            raise ValueError("notifications take the mode drop; API calls one of " + ", ".join(FAULT_MODES))
        if operation != "notify" and mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        with self._lock:
            self.faults.add(operation, mode, count)

    def _fault(self, operation: str) -> str | None:
        mode = self.faults.take(operation)
        if mode is None:
            return None
        if mode == "timeout":
            raise TimeoutError(operation)
        if mode == "system_error":
            raise SbpsNg("90", "999")
        if mode == "decline":
            raise SbpsNg("42", "999")
        return mode

    # ---- operations -------------------------------------------------------------------------
    def _charge(self, fields: dict[str, str]) -> list[protocol.Element]:
        """決済要求 with a ``cust_code`` and no token: the card kept under it, authorized."""
        order_id, cust_code = fields.get("order_id", ""), fields.get("cust_code", "")
        if not order_id:
            raise SbpsNg("03", "004")
        if not cust_code:
            raise SbpsNg("03", "003")
        amount_text = fields.get("amount", "")
        if not amount_text.isdigit() or not 0 < int(amount_text) <= 9_999_999:
            raise SbpsNg("05", "008")
        if order_id in self.payments:
            raise SbpsNg("96", "004")  # the purchase id is held: never authorized twice
        card = self.customers.get(cust_code)
        if card is None:
            raise SbpsNg("03", "200")  # no token and no card kept: no card number to authorize
        free = (fields.get("free1", ""), fields.get("free2", ""), fields.get("free3", ""))
        payment = self._new_payment(order_id, int(amount_text), free, cust_code=cust_code, committed=False)
        return [
            *self._ok(payment.operations[-1]["transaction"]),
            ("res_tracking_id", payment.tracking_id),
            (
                "res_pay_method_info",
                [("cc_company_code", "00000"), ("cardbrand_code", card.brand), ("recognized_no", "000000")],
            ),
        ]

    def _customer(self, fields: dict[str, str]) -> list[protocol.Element]:
        """顧客決済情報参照: the card kept under the ``cust_code`` (masked), NG when none."""
        card = self.customers.get(fields.get("cust_code", ""))
        if card is None:
            raise SbpsNg("83", "003")
        masked = "*" * 12 + card.last4 if fields.get("response_info_type") == "2" else "*" * 16
        return [
            *self._ok(self._transaction()),
            (
                "res_pay_method_info",
                [("cc_number", masked), ("cc_expiration", card.expires), ("cardbrand_code", card.brand)],
            ),
        ]

    def _commit(self, payment: Authorization, fields: dict[str, str]) -> list[protocol.Element]:
        payment.committed = True
        return self._ok(self._transaction())

    def _capture(self, payment: Authorization, fields: dict[str, str]) -> list[protocol.Element]:
        if payment.status == "2" or payment.status == "4":
            raise SbpsNg("41", "999")
        if payment.status == "3":
            raise SbpsNg("40", "999")
        if not payment.committed:
            raise SbpsNg("39", "999")
        amount = payment.amount
        if fields.get("pay_option_manage/amount"):
            amount = int(fields["pay_option_manage/amount"])
            if not 0 < amount <= payment.amount:
                raise SbpsNg("79", "008")
        payment.status, payment.captured_amount = "2", amount
        return self._ok(self._record(payment, "captured", amount))

    def _cancel(self, payment: Authorization, fields: dict[str, str]) -> list[protocol.Element]:
        if payment.status == "3":
            raise SbpsNg("52", "999")
        if payment.status == "4" or (
            payment.captured_amount and payment.refunded_amount >= payment.captured_amount
        ):
            raise SbpsNg("46", "999")
        if payment.status == "1":
            payment.status = "3"
            return self._ok(self._record(payment, "canceled", payment.amount))
        rest = payment.captured_amount - payment.refunded_amount
        payment.status, payment.refunded_amount = "4", payment.captured_amount
        return self._ok(self._record(payment, "refunded", rest))

    def _refund(self, payment: Authorization, fields: dict[str, str]) -> list[protocol.Element]:
        if payment.status in ("1", "3"):
            raise SbpsNg("K0", "999")
        try:
            amount = int(fields.get("pay_option_manage/amount", ""))
        except ValueError:
            raise SbpsNg("03", "008", "999") from None
        if not 0 < amount <= payment.captured_amount - payment.refunded_amount:
            raise SbpsNg("K1", "008")
        payment.refunded_amount += amount
        if payment.refunded_amount >= payment.captured_amount:
            payment.status = "4"
        return self._ok(self._record(payment, "refunded", amount))

    def _lookup(self, payment: Authorization, fields: dict[str, str]) -> list[protocol.Element]:
        return [
            *self._ok(self._transaction()),
            ("res_status", "0"),
            (
                "res_pay_method_info",
                [
                    ("cc_company_code", "00000"),
                    ("cardbrand_code", "V"),
                    ("recognized_no", "000000"),
                    ("commit_status", "1" if payment.committed else "0"),
                    ("payment_status", payment.status),
                ],
            ),
        ]

    # ---- notifications ----------------------------------------------------------------------
    def _transaction(self) -> str:
        return f"SPS{next(self._numbers):029d}"[-32:]

    def _record(self, payment: Authorization, status: str, amount: int) -> str:
        transaction = self._transaction()
        now = protocol.sps_timestamp(self.clock())
        payment.operations.append({"status": status, "amount": amount, "transaction": transaction, "at": now})
        pairs = [
            ("pay_method", "credit"),
            ("merchant_id", self.merchant_id),
            ("service_id", self.service_id),
            *([("cust_code", payment.cust_code)] if payment.cust_code else []),
            ("order_id", payment.order_id),
            ("amount", str(amount)),
            ("free1", payment.free[0]),
            ("free2", payment.free[1]),
            ("free3", payment.free[2]),
            ("res_status", status),
            ("res_result", "OK"),
            ("res_tracking_id", payment.tracking_id),
            ("res_sps_transaction_id", transaction),
            ("res_err_code", ""),
            ("res_date", now),
        ]
        self.notifications.append(pairs)
        if self.faults.take("notify") is not None:  # dropped
            return transaction
        if self.webhook_url:
            body = notifications.sign(pairs, self.notify_hash_key, encoding=self.notify_encoding)
            charset = "Shift_JIS" if self.notify_encoding == protocol.ENCODING else self.notify_encoding
            headers = {"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"}
            self.send_webhook(self.webhook_url, body, lambda: headers)
        return transaction
