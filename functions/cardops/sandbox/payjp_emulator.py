"""A local emulation of the PAY.JP v1 charges API (SPEC §8 contract 4), in PAY.JP's shapes.

HTTP Basic with the sandbox secret key; form-encoded requests; PAY.JP's JSON objects and error
bodies; ``Idempotency-Key`` replays the first answer; a webhook (``X-Payjp-Webhook-Token``) is
delivered to the sandbox after every change, as PAY.JP does. The official ``payjp`` library works
against it with ``payjp.api_base`` set to its URL.

Special card tokens (documented in the README) inject failures:

| token                     | effect                                                   |
| ------------------------- | -------------------------------------------------------- |
| ``tok_card_declined``     | 402 ``card_declined`` and a ``charge.failed`` webhook    |
| ``tok_processing_error``  | 402 ``processing_error`` (``card_error``): the card network failed |
| ``tok_server_error``      | 500 once per request (retries with the same key fail too)|
| ``tok_not_reusable``      | the card cannot be charged again (re-payment eligibility) |

Sandbox controls (not PAY.JP's; JSON bodies, no authentication, loopback only):

* ``POST /_sandbox/faults`` with ``{"operation": "capture|refund|retrieve|create|reauth",
  "mode": "timeout|server_error|decline", "count": N}`` makes the next N such calls fail (a fault
  is answered before the call runs and is not stored under its idempotency key, so a retry with the
  same key can succeed). PAY.JP releases an authorization with a refund: cardops' cancel at the
  capture deadline is a ``refund`` here;
* ``POST /_sandbox/webhooks`` ``{"deliver": false}``: events are recorded but not sent (lost
  webhooks, for the janitor); ``true`` sends again (what was not sent stays lost);
* ``GET /_sandbox/requests`` and ``GET /_sandbox/events``: every API request (method, path,
  idempotency key) and every event, for tests that run the sandbox in another process.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cardops.sandbox.loopback import EmulatorServer, Faults, sandbox_record, send

#: token → (PAY.JP error code, message). Both are ``card_error`` with HTTP 402, as PAY.JP answers them;
#: ``processing_error`` is "an error on the payment network", not a refusal by the card issuer.
DECLINE_TOKENS = {
    "tok_card_declined": ("card_declined", "Card declined."),
    "tok_processing_error": (
        "processing_error",
        "An error occurred on the payment network while processing the card; try again later.",
    ),
}
SERVER_ERROR_TOKEN = "tok_server_error"  # noqa: S105 - a documented test token, not a secret
NOT_REUSABLE_TOKEN = "tok_not_reusable"  # noqa: S105

Clock = Callable[[], datetime]


class PayjpError(Exception):
    def __init__(
        self, status: int, code: str, message: str, *, kind: str = "client_error", param: str | None = None
    ):
        super().__init__(message)
        self.status, self.code, self.kind, self.param = status, code, kind, param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": str(self),
            "status": self.status,
            "type": self.kind,
        }
        if self.param:
            error["param"] = self.param
        return {"error": error}


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``metadata[key]=v`` → ``{"metadata": {"key": "v"}}`` (PAY.JP's form encoding)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if "[" in key and key.endswith("]"):
            outer, inner = key[:-1].split("[", 1)
            result.setdefault(outer, {})[inner] = value
        else:
            result[key] = value
    return result


class PayjpEmulator(EmulatorServer):
    def __init__(
        self,
        *,
        secret_key: str,
        webhook_url: str | None = None,
        webhook_token: str = "",
        clock: Clock | None = None,
        port: int = 0,
    ) -> None:
        self.secret_key = secret_key
        self.webhook_url = webhook_url
        self.webhook_token = webhook_token
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.charges: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.faults = Faults()
        #: ``False``: webhooks are lost (recorded in ``events``, never sent)
        self.deliver = True
        #: (method, path, idempotency key or None) of every authenticated request, in order
        self.requests: list[tuple[str, str, str | None]] = []
        self._idempotent: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        super().__init__(name="payjp-emulator", port=port)

    # ---- HTTP -------------------------------------------------------------------------------
    def _dispatch(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        parts = urlsplit(request.path)
        params = _nested(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if request.command == "GET":
            params |= _nested(parse_qsl(parts.query, keep_blank_values=True))
        payload: dict[str, Any]
        try:
            if parts.path == "/_sandbox/faults" and request.command == "POST":
                self._set_fault(json.loads(body or b"{}"))
                status, payload = 200, {"faults": self.faults}
            elif parts.path == "/_sandbox/webhooks" and request.command == "POST":
                self.deliver = json.loads(body or b"{}").get("deliver") is not False
                status, payload = 200, {"deliver": self.deliver}
            elif request.command == "GET" and (record := self._record(parts.path)) is not None:
                status, payload = 200, record
            else:
                self._authenticate(request.headers.get("Authorization"))
                key = request.headers.get("Idempotency-Key")
                status, payload = self._idempotent_call(request.command, parts.path, params, key)
        except PayjpError as error:
            status, payload = error.status, error.body()
        except (ValueError, AttributeError) as exc:  # a control body that is not a JSON object
            status, payload = 400, PayjpError(400, "invalid_param", f"invalid JSON: {exc}").body()
        except TimeoutError:
            time.sleep(12)  # longer than a client's read timeout
            status, payload = 504, PayjpError(504, "timeout", "gateway timeout", kind="server_error").body()
        data = json.dumps(payload).encode()
        send(request, status, "application/json; charset=utf-8", data)

    def _record(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            return sandbox_record(path, self.requests, self.events)

    def _authenticate(self, header: str | None) -> None:
        if not header or not header.startswith("Basic "):
            raise PayjpError(401, "unauthorized", "Invalid API Key", kind="auth_error")
        try:
            user = base64.b64decode(header[6:], validate=True).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if not hmac.compare_digest(user.encode(), self.secret_key.encode()):
            raise PayjpError(401, "invalid_api_key", "Invalid API Key", kind="auth_error")

    def _idempotent_call(
        self, method: str, path: str, params: dict[str, Any], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append((method, path, key))
            if method == "POST" and key and (key, path) in self._idempotent:
                return self._idempotent[(key, path)]
            try:
                result = (200, self._route(method, path, params))
            except PayjpError as error:
                if error.status >= 500:
                    raise
                result = (error.status, error.body())
            if method == "POST" and key:
                self._idempotent[(key, path)] = result
            return result

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["v1", "charges"]:
            if len(parts) == 2 and method == "POST":
                return self.create_charge(params)
            if len(parts) == 3 and method == "GET":
                self._fault("retrieve")
                return self._charge(parts[2])
            if len(parts) == 4 and method == "POST" and parts[3] in ("capture", "refund", "reauth"):
                return getattr(self, f"{parts[3]}_charge")(parts[2], params)  # type: ignore[no-any-return]
        if parts[:2] == ["v1", "customers"]:
            if len(parts) == 2 and method == "POST":
                return self.create_customer(params)
            if len(parts) == 3 and method == "GET":
                return self._customer(parts[2])
        raise PayjpError(404, "not_found", f"Unrecognized request URL ({method}: {path}).")

    # ---- faults -----------------------------------------------------------------------------
    def _set_fault(self, spec: dict[str, Any]) -> None:
        operation, mode, count = str(spec.get("operation")), str(spec.get("mode")), int(spec.get("count", 1))
        if operation not in ("capture", "refund", "retrieve", "create", "reauth"):
            raise PayjpError(400, "invalid_param", "unknown operation", param="operation")
        if mode not in ("timeout", "server_error", "decline"):
            raise PayjpError(400, "invalid_param", "unknown mode", param="mode")
        self.faults.add(operation, mode, count)

    def _fault(self, operation: str) -> None:
        mode = self.faults.take(operation)
        if mode is None:
            return
        if mode == "timeout":
            raise TimeoutError(operation)
        if mode == "server_error":
            raise PayjpError(
                500, "pg_wrong", "An error occurred in the payment gateway.", kind="server_error"
            )
        raise PayjpError(402, "card_declined", "Card declined.", kind="card_error")

    # ---- resources --------------------------------------------------------------------------
    def _now(self) -> int:
        return int(self.clock().timestamp())

    def _charge(self, charge_id: str) -> dict[str, Any]:
        charge = self.charges.get(charge_id)
        if charge is None:
            raise PayjpError(404, "invalid_id", f"No such charge: {charge_id}", param="id")
        return dict(charge)

    def _customer(self, customer_id: str) -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise PayjpError(404, "invalid_id", f"No such customer: {customer_id}", param="id")
        return dict(customer)

    def _card(self, token: str) -> dict[str, Any]:
        if not token.startswith("tok_"):
            raise PayjpError(400, "invalid_id", f"No such token: {token}", param="card")
        return {
            "object": "card",
            "id": _id("car"),
            "brand": "Visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": self.clock().year + 3,
            "country": "JP",
            "fingerprint": secrets.token_hex(16),
            "name": None,
            "metadata": {},
            "created": self._now(),
            "reusable": token != NOT_REUSABLE_TOKEN,
        }

    def create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        card = self._card(str(params.get("card", "tok_visa")))
        customer = {
            "object": "customer",
            "id": _id("cus"),
            "created": self._now(),
            "default_card": card["id"],
            "cards": {"object": "list", "count": 1, "data": [card], "has_more": False, "url": ""},
            "email": params.get("email"),
            "livemode": False,
            "metadata": params.get("metadata") or {},
        }
        self.customers[str(customer["id"])] = customer
        return dict(customer)

    def create_charge(self, params: dict[str, Any]) -> dict[str, Any]:
        self._fault("create")
        try:
            amount = int(params.get("amount", ""))
        except ValueError as exc:
            raise PayjpError(400, "invalid_param", "amount must be an integer", param="amount") from exc
        if not 50 <= amount <= 9_999_999:
            raise PayjpError(400, "invalid_amount", "amount must be between 50 and 9,999,999", param="amount")
        if str(params.get("currency", "")).lower() != "jpy":
            raise PayjpError(400, "invalid_currency", "currency must be jpy", param="currency")
        capture = str(params.get("capture", "true")).lower() != "false"
        try:
            expiry_days = int(params.get("expiry_days", 7))
        except ValueError as exc:
            raise PayjpError(
                400, "invalid_param", "expiry_days must be an integer", param="expiry_days"
            ) from exc
        if not 1 <= expiry_days <= 60:
            raise PayjpError(400, "invalid_expiry_days", "expiry_days must be 1-60", param="expiry_days")
        customer_id = params.get("customer")
        token = params.get("card")
        if customer_id:
            customer = self._customer(str(customer_id))
            card = customer["cards"]["data"][0]
        elif token:
            card = self._card(str(token))
            if token == SERVER_ERROR_TOKEN:
                raise PayjpError(
                    500, "pg_wrong", "An error occurred in the payment gateway.", kind="server_error"
                )
        else:
            raise PayjpError(400, "missing_card", "card or customer is required", param="card")
        now = self._now()
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > 20:
            raise PayjpError(400, "invalid_param", "metadata must have at most 20 keys", param="metadata")
        charge: dict[str, Any] = {
            "object": "charge",
            "id": _id("ch"),
            "amount": amount,
            "amount_refunded": 0,
            "captured": False,
            "captured_at": None,
            "card": card,
            "created": now,
            "currency": "jpy",
            "customer": customer_id,
            "description": params.get("description"),
            "expired_at": None,
            "failure_code": None,
            "failure_message": None,
            "fee_rate": "3.00",
            "livemode": False,
            "metadata": metadata,
            "paid": True,
            "refund_reason": None,
            "refunded": False,
            "subscription": None,
            "tenant": None,
            "three_d_secure_status": None,
            "term_id": None,
            "platform_consumption": None,
        }
        if token in DECLINE_TOKENS:
            code, message = DECLINE_TOKENS[str(token)]
            charge |= {"paid": False, "failure_code": code, "failure_message": message}
            self.charges[charge["id"]] = charge
            self._emit("charge.failed", charge)
            raise PayjpError(402, code, message, kind="card_error", param="card")
        if capture:
            charge |= {"captured": True, "captured_at": now}
        else:
            charge["expired_at"] = now + expiry_days * 86400
        self.charges[charge["id"]] = charge
        self._emit("charge.succeeded", charge)
        return dict(charge)

    def capture_charge(self, charge_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self._fault("capture")
        charge = self._charge(charge_id)
        if charge["captured"]:
            raise PayjpError(400, "already_captured", "This charge is already captured.")
        if charge["refunded"]:
            raise PayjpError(400, "already_refunded", "This charge is already refunded.")
        if charge["expired_at"] is not None and charge["expired_at"] < self._now():
            raise PayjpError(400, "capture_expired", "The authorization of this charge has expired.")
        amount = charge["amount"]
        if params.get("amount") not in (None, ""):
            try:
                amount = int(params["amount"])
            except ValueError as exc:
                raise PayjpError(400, "invalid_param", "amount must be an integer", param="amount") from exc
            if not 0 < amount <= charge["amount"]:
                raise PayjpError(
                    400, "invalid_amount", "amount must not exceed the authorized amount", param="amount"
                )
        charge |= {"amount": amount, "captured": True, "captured_at": self._now(), "expired_at": None}
        self.charges[charge_id] = charge
        self._emit("charge.captured", charge)
        return dict(charge)

    def refund_charge(self, charge_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self._fault("refund")
        charge = self._charge(charge_id)
        if charge["refunded"]:
            raise PayjpError(400, "already_refunded", "This charge is already refunded.")
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = remaining
        if params.get("amount") not in (None, ""):
            try:
                amount = int(params["amount"])
            except ValueError as exc:
                raise PayjpError(400, "invalid_param", "amount must be an integer", param="amount") from exc
            if not 0 < amount <= remaining:
                raise PayjpError(
                    400, "invalid_refund_amount", "refund exceeds the refundable amount", param="amount"
                )
        if not charge["captured"]:
            amount = charge["amount"]  # an authorization is released whole
        refunded_total = charge["amount_refunded"] + amount
        charge |= {
            "amount_refunded": refunded_total,
            "refunded": refunded_total >= charge["amount"],
            "refund_reason": params.get("refund_reason"),
        }
        self.charges[charge_id] = charge
        self._emit("charge.refunded", charge)
        return dict(charge)

    def reauth_charge(self, charge_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self._fault("reauth")
        charge = self._charge(charge_id)
        if charge["captured"] or charge["refunded"]:
            raise PayjpError(
                400, "invalid_status", "Only an uncaptured, unrefunded charge can be reauthorized."
            )
        expiry_days = int(params.get("expiry_days", 7))
        if not 1 <= expiry_days <= 60:
            raise PayjpError(400, "invalid_expiry_days", "expiry_days must be 1-60", param="expiry_days")
        charge["expired_at"] = self._now() + expiry_days * 86400
        self.charges[charge_id] = charge
        self._emit("charge.updated", charge)
        return dict(charge)

    # ---- webhooks ---------------------------------------------------------------------------
    def _emit(self, event_type: str, charge: dict[str, Any]) -> None:
        event = {
            "object": "event",
            "id": _id("evnt"),
            "type": event_type,
            "created": self._now(),
            "livemode": False,
            "pending_webhooks": 1,
            "data": dict(charge),
        }
        self.events.append(event)
        if self.webhook_url and self.deliver:
            headers = {"Content-Type": "application/json", "X-Payjp-Webhook-Token": self.webhook_token}
            self.send_webhook(self.webhook_url, json.dumps(event).encode(), lambda: headers)
