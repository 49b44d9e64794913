"""A local emulation of the Stripe API subset cardops uses (issue 12 item 4), in Stripe's shapes.

``localstripe`` was checked and lacks the webhook events and idempotency we need, so this is our
own, modelled on ``payjp_emulator.py``. The official ``stripe`` library works against it with
``base_addresses={"api": url}`` (``StripeClient``) or ``stripe.api_base = url``.

What it holds and answers (API version :data:`API_VERSION`):

* ``/v1/customers`` (create, retrieve, update), ``/v1/payment_methods`` (create from ``card[token]``,
  retrieve, ``attach``), Stripe's test payment methods (``pm_card_visa`` …) usable anywhere an id is;
* ``/v1/payment_intents``: create (``confirm``, ``off_session``, ``capture_method=manual``),
  retrieve, ``confirm``, ``capture`` (``amount_to_capture``), ``cancel``; each confirmation makes a
  Charge whose ``payment_method_details.card`` carries ``capture_before`` (7 days) while uncaptured;
* ``/v1/charges/{id}``, ``/v1/refunds`` (create, retrieve), ``expand[]`` of ``latest_charge``,
  ``latest_charge.refunds`` and ``invoice_settings.default_payment_method``;
* ``Idempotency-Key`` on every POST: the same key and parameters replay the first answer
  (``Idempotent-Replayed: true``); the same key with other parameters or another endpoint answers
  400 ``idempotency_error``, as Stripe does;
* Stripe's error bodies (``type``, ``code``, ``decline_code``, ``message``, ``param``,
  ``payment_intent`` on card errors) with a ``Request-Id`` header;
* a webhook to ``webhook_url`` after every change, for each event type SPEC §1 lists, signed as
  Stripe signs: ``Stripe-Signature: t={unix time},v1={HMAC-SHA256(secret, "{t}.{body}")}``.

Test payment methods (the declines happen at confirmation, as in Stripe's test mode):

| payment method                          | effect                                                    |
| --------------------------------------- | --------------------------------------------------------- |
| ``pm_card_visa`` ``pm_card_mastercard`` ``pm_card_jcb`` ``pm_card_amex`` | succeeds (brand as named) |
| ``pm_card_chargeDeclined``              | 402 ``card_declined`` / ``generic_decline``               |
| ``pm_card_chargeDeclinedInsufficientFunds`` | 402 ``card_declined`` / ``insufficient_funds``        |
| ``pm_card_authenticationRequired``      | off-session: 402 ``authentication_required``              |
| ``pm_card_refundFail``                  | succeeds; refunds fail after (``charge.refund.updated``)  |

Sandbox controls (not Stripe's; JSON bodies, no authentication, loopback only):

* ``POST /_sandbox/faults`` ``{"operation": "create|retrieve|capture|cancel|refund|customer",
  "mode": "timeout|server_error|rate_limit|decline", "count": N}``: the next N such calls fail
  (a fault is answered before the call runs and is not stored under its idempotency key, so a
  retry with the same key can succeed);
* ``POST /_sandbox/disputes`` ``{"charge": id}`` opens a dispute (``charge.dispute.created``);
  ``POST /_sandbox/disputes/{id}/close`` ``{"status": "won|lost"}`` closes it;
* ``POST /_sandbox/payment_intents/{id}/expire``: Stripe cancels the lapsed authorization
  (``cancellation_reason=automatic``);
* ``POST /_sandbox/customers/{id}/detach_all``: the customer keeps no reusable payment method;
* ``POST /_sandbox/webhooks`` ``{"deliver": false}``: events are recorded but not sent (lost
  webhooks, for the janitor); ``true`` sends again (what was not sent stays lost);
* ``GET /_sandbox/requests`` and ``GET /_sandbox/events``: every API request (method, path,
  idempotency key) and every event, for tests that run the sandbox in another process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from cardops.sandbox.loopback import EmulatorServer, Faults, sandbox_record

API_VERSION: Final = "2026-10-28.endive"
#: the event types SPEC §1 lists: the endpoint's subscription, as configured in Stripe's dashboard
SPEC_EVENT_TYPES: Final = frozenset(
    {
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.canceled",
        "charge.refunded",
        "charge.refund.updated",
        "charge.dispute.created",
        "charge.dispute.closed",
    }
)
#: how long a card network holds an online authorization (Stripe reports it as ``capture_before``)
AUTHORIZATION_HOLD_SECONDS: Final = 7 * 86_400
#: Stripe's JPY bounds: at least ¥50, at most ¥99,999,999
MIN_AMOUNT: Final = 50
MAX_AMOUNT: Final = 99_999_999
FAULT_OPERATIONS: Final = frozenset({"create", "retrieve", "capture", "cancel", "refund", "customer"})
FAULT_MODES: Final = frozenset({"timeout", "server_error", "rate_limit", "decline"})
#: a faulted "timeout" answers after this long: longer than a client's read timeout
TIMEOUT_SECONDS: Final = 12.0

#: test payment method → (brand, failure (code, decline_code, message) or None)
TEST_CARDS: Final[Mapping[str, tuple[str, tuple[str, str, str] | None]]] = {
    "pm_card_visa": ("visa", None),
    "pm_card_mastercard": ("mastercard", None),
    "pm_card_jcb": ("jcb", None),
    "pm_card_amex": ("amex", None),
    "pm_card_refundFail": ("visa", None),
    "pm_card_chargeDeclined": ("visa", ("card_declined", "generic_decline", "Your card was declined.")),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "visa",
        ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "pm_card_authenticationRequired": ("visa", None),
}
TOKENS: Final = {"tok_visa": "pm_card_visa", "tok_mastercard": "pm_card_mastercard", "tok_jcb": "pm_card_jcb"}
_ID = re.compile(r"^[A-Za-z0-9_]{1,255}$")

Clock = Callable[[], datetime]


class StripeApiError(Exception):
    """One of Stripe's error answers: HTTP status and the ``error`` object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: Mapping[str, Any] | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": kind, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param
        if decline_code:
            self.error["decline_code"] = decline_code
        self.error.update(extra or {})
        self.should_retry = should_retry

    def body(self) -> dict[str, Any]:
        return {"error": self.error}


def _missing(kind: str, object_id: str, param: str = "id") -> StripeApiError:
    return StripeApiError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding as nested values: ``a[b][c]=v``, ``a[0]=v`` and ``a[]=v``."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head] + ([part for part in rest.rstrip("]").split("][")] if rest else [])
        node: Any = result
        for index, part in enumerate(path):
            last = index == len(path) - 1
            nxt: Any = value if last else {}
            if isinstance(node, list):
                node.append(nxt)
                node = node[-1]
                continue
            if last:
                node[part] = value
            else:
                upcoming = path[index + 1]
                container: Any = [] if upcoming == "" else {}
                node = node.setdefault(part, container)
    converted: dict[str, Any] = _lists(result)
    return converted


def _lists(value: Any) -> Any:
    """``{"0": a, "1": b}`` (``expand[0]=…``) as ``[a, b]``."""
    if isinstance(value, dict):
        converted = {k: _lists(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    if isinstance(value, list):
        return [_lists(v) for v in value]
    return value


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe sends with ``body``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _int(params: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(str(raw))
    except ValueError as exc:
        raise StripeApiError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name
        ) from exc


def _check_id(value: str, kind: str) -> str:
    if not _ID.match(value):
        raise _missing(kind, value)
    return value


class StripeEmulator(EmulatorServer):
    """In-memory Stripe: one account, one API key, one webhook endpoint."""

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_url: str | None = None,
        webhook_secret: str = "",
        clock: Clock | None = None,
        wall_clock: Callable[[], float] = time.time,
        enabled_events: frozenset[str] = SPEC_EVENT_TYPES,
        port: int = 0,
    ) -> None:
        self.secret_key = secret_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        #: the business clock (``created`` and ``capture_before``); signatures use the wall clock
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.wall_clock = wall_clock
        self.enabled_events = enabled_events
        #: ``False``: webhooks are lost (recorded in ``events``, never sent)
        self.deliver = True
        self.customers: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.faults = Faults()
        #: (method, path, idempotency key or None) of every authenticated request, in order
        self.requests: list[tuple[str, str, str | None]] = []
        self._idempotent: dict[str, tuple[str, str, int, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        super().__init__(name="stripe-emulator", port=port)

    def event_types(self) -> list[str]:
        return [str(e["type"]) for e in self.events]

    # ---- HTTP -------------------------------------------------------------------------------
    def _dispatch(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        parts = urlsplit(request.path)
        headers = {"Request-Id": f"req_{secrets.token_hex(7)}", "Stripe-Version": API_VERSION}
        try:
            if parts.path.startswith("/_sandbox/") and request.command == "POST":
                status, payload = 200, self._control(parts.path, json.loads(body or b"{}"))
            elif request.command == "GET" and (record := self._record(parts.path)) is not None:
                status, payload = 200, record
            else:
                self._authenticate(request.headers.get("Authorization"))
                pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
                if request.command == "GET":
                    pairs += parse_qsl(parts.query, keep_blank_values=True)
                key = request.headers.get("Idempotency-Key")
                status, payload, replayed = self._call(request.command, parts.path, pairs, key)
                if replayed:
                    headers["Idempotent-Replayed"] = "true"
                if key:
                    headers["Idempotency-Key"] = key
        except StripeApiError as error:
            status, payload = error.status, error.body()
            if error.should_retry is not None:
                headers["Stripe-Should-Retry"] = "true" if error.should_retry else "false"
        except TimeoutError:
            time.sleep(TIMEOUT_SECONDS)
            status, payload = 504, StripeApiError(504, "Gateway timeout", kind="api_error").body()
        except ValueError as exc:  # a control body that is not JSON
            status, payload = 400, StripeApiError(400, f"invalid JSON: {exc}").body()
        data = json.dumps(payload).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout fault)

    def _record(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            return sandbox_record(path, self.requests, self.events)

    def _authenticate(self, header: str | None) -> None:
        presented = header[7:] if header and header.startswith("Bearer ") else ""
        if not hmac.compare_digest(presented.encode(), self.secret_key.encode()):
            shown = f"{presented[:8]}…" if presented else "none"
            raise StripeApiError(401, f"Invalid API Key provided: {shown}")

    def _call(
        self, method: str, path: str, pairs: list[tuple[str, str]], key: str | None
    ) -> tuple[int, dict[str, Any], bool]:
        params = parse_form(pairs)
        with self._lock:
            self.requests.append((method, path, key))
            if method != "POST" or not key:
                return 200, self._route(method, path, params), False
            fingerprint = hashlib.sha256(json.dumps(sorted(pairs)).encode()).hexdigest()
            stored = self._idempotent.get(key)
            if stored is not None:
                stored_path, stored_fingerprint, status, payload = stored
                if stored_path != path or stored_fingerprint != fingerprint:
                    raise StripeApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they "
                        f"were first used with. Try using a key other than '{key}' if you meant to "
                        "execute a different request.",
                        kind="idempotency_error",
                    )
                return status, payload, True
            try:
                result = 200, self._route(method, path, params)
            except StripeApiError as error:
                if error.status >= 500 or error.status == 429:
                    raise  # not executed: nothing is stored, a retry runs it
                result = error.status, error.body()
            self._idempotent[key] = (path, fingerprint, *result)
            return (*result, False)

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        parts = [p for p in path.split("/") if p]
        expand = [str(e) for e in params.get("expand") or []]
        if len(parts) < 2 or parts[0] != "v1":
            raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}).")
        resource, rest = parts[1], parts[2:]
        if resource == "payment_intents":
            if not rest and method == "POST":
                self._fault("create")
                return self._expand_intent(self.create_payment_intent(params), expand)
            if len(rest) == 1 and method == "GET":
                self._fault("retrieve")
                return self._expand_intent(self._intent(rest[0]), expand)
            if len(rest) == 2 and method == "POST" and rest[1] in ("confirm", "capture", "cancel"):
                if rest[1] != "confirm":
                    self._fault(rest[1])
                action = getattr(self, f"{rest[1]}_payment_intent")
                return self._expand_intent(action(_check_id(rest[0], "payment_intent"), params), expand)
        if resource == "charges" and len(rest) == 1 and method == "GET":
            return self._expand_charge(self._object(self.charges, "charge", rest[0]), expand)
        if resource == "refunds":
            if not rest and method == "POST":
                self._fault("refund")
                return self.create_refund(params)
            if len(rest) == 1 and method == "GET":
                return dict(self._object(self.refunds, "refund", rest[0]))
        if resource == "customers":
            if not rest and method == "POST":
                return self._expand_customer(self.create_customer(params), expand)
            if len(rest) == 1 and method == "GET":
                self._fault("customer")
                return self._expand_customer(self._object(self.customers, "customer", rest[0]), expand)
            if len(rest) == 1 and method == "POST":
                return self._expand_customer(self.update_customer(rest[0], params), expand)
        if resource == "payment_methods":
            if not rest and method == "POST":
                return self.create_payment_method(params)
            if len(rest) == 1 and method == "GET":
                return dict(self._payment_method(rest[0]))
            if len(rest) == 2 and method == "POST" and rest[1] == "attach":
                return self.attach_payment_method(rest[0], params)
        raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}).")

    # ---- sandbox controls ---------------------------------------------------------------------
    def _control(self, path: str, body: Any) -> dict[str, Any]:
        spec: dict[str, Any] = body if isinstance(body, dict) else {}
        parts = [p for p in path.split("/") if p][1:]
        with self._lock:
            if parts == ["faults"]:
                return self.set_fault(str(spec.get("operation")), str(spec.get("mode")), spec.get("count", 1))
            if parts == ["disputes"]:
                return self.open_dispute(str(spec.get("charge", "")))
            if len(parts) == 3 and parts[0] == "disputes" and parts[2] == "close":
                return self.close_dispute(parts[1], str(spec.get("status", "lost")))
            if len(parts) == 3 and parts[0] == "payment_intents" and parts[2] == "expire":
                return self.expire_payment_intent(parts[1])
            if len(parts) == 3 and parts[0] == "customers" and parts[2] == "detach_all":
                return self.detach_all(parts[1])
            if parts == ["webhooks"]:
                self.deliver = spec.get("deliver") is not False
                return {"deliver": self.deliver}
        raise StripeApiError(404, f"Unrecognized sandbox control ({path}).")

    def set_fault(self, operation: str, mode: str, count: Any = 1) -> dict[str, Any]:
        if operation not in FAULT_OPERATIONS:
            raise StripeApiError(400, f"unknown operation {operation!r}", param="operation")
        if mode not in FAULT_MODES:
            raise StripeApiError(400, f"unknown mode {mode!r}", param="mode")
        try:
            times = int(count)
        except (TypeError, ValueError) as exc:
            raise StripeApiError(400, "count must be an integer", param="count") from exc
        with self._lock:
            self.faults.add(operation, mode, times)
            return {"faults": {k: list(v) for k, v in self.faults.items()}}

    def _fault(self, operation: str) -> None:
        mode = self.faults.take(operation)
        if mode is None:
            return
        if mode == "timeout":
            raise TimeoutError(operation)
        if mode == "server_error":
            raise StripeApiError(500, "An unknown error occurred", kind="api_error", should_retry=True)
        if mode == "rate_limit":
            raise StripeApiError(
                429,
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
        raise StripeApiError(
            402,
            "Your card was declined.",
            kind="card_error",
            code="card_declined",
            decline_code="generic_decline",
        )

    # ---- objects ----------------------------------------------------------------------------
    def _now(self) -> int:
        return int(self.clock().timestamp())

    @staticmethod
    def _new_id(prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(12)}"

    def _object(self, table: dict[str, dict[str, Any]], kind: str, object_id: str) -> dict[str, Any]:
        found = table.get(object_id)
        if found is None:
            raise _missing(kind, object_id)
        return found

    def _intent(self, intent_id: str) -> dict[str, Any]:
        return self._object(self.payment_intents, "payment_intent", intent_id)

    def _payment_method(self, pm_id: str, *, param: str = "id") -> dict[str, Any]:
        """A stored payment method, or a fresh one for a test id (``pm_card_visa``), as Stripe does."""
        if pm_id in TEST_CARDS:
            brand, _ = TEST_CARDS[pm_id]
            return self._store_payment_method(brand, pm_id)
        found = self.payment_methods.get(pm_id)
        if found is None:
            raise _missing("PaymentMethod", pm_id, param)
        return found

    def _store_payment_method(self, brand: str, test_card: str) -> dict[str, Any]:
        pm = {
            "id": self._new_id("pm"),
            "object": "payment_method",
            "type": "card",
            "card": {
                "brand": brand,
                "country": "JP",
                "exp_month": 12,
                "exp_year": self.clock().year + 3,
                "funding": "credit",
                "last4": {"amex": "8431", "jcb": "0000", "mastercard": "4444"}.get(brand, "4242"),
            },
            "customer": None,
            "created": self._now(),
            "livemode": False,
            "metadata": {},
            # which test card it is: decides declines at confirmation (not a Stripe field)
            "_test_card": test_card,
        }
        self.payment_methods[str(pm["id"])] = pm
        return pm

    @staticmethod
    def _public(obj: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def create_payment_method(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if params.get("type", "card") != "card":
            raise StripeApiError(400, "Only card payment methods are emulated", param="type")
        card = params.get("card")
        token = card.get("token") if isinstance(card, dict) else None
        if token not in TOKENS:
            raise StripeApiError(
                400, f"No such token: '{token}'", code="resource_missing", param="card[token]"
            )
        test_card = TOKENS[str(token)]
        return self._public(self._store_payment_method(TEST_CARDS[test_card][0], test_card))

    def attach_payment_method(self, pm_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        customer = self._object(self.customers, "customer", str(params.get("customer", "")))
        pm = self._payment_method(pm_id)
        if pm["customer"] not in (None, customer["id"]):
            raise StripeApiError(
                400, "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
            )  # fmt: skip
        pm["customer"] = customer["id"]
        return self._public(pm)

    def create_customer(self, params: Mapping[str, Any]) -> dict[str, Any]:
        customer: dict[str, Any] = {
            "id": self._new_id("cus"),
            "object": "customer",
            "created": self._now(),
            "email": params.get("email"),
            "name": params.get("name"),
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "invoice_settings": {"default_payment_method": None},
        }
        self.customers[customer["id"]] = customer
        pm_id = params.get("payment_method")
        if pm_id:
            pm = self._payment_method(str(pm_id), param="payment_method")
            pm["customer"] = customer["id"]
            pm_id = pm["id"]
        settings = params.get("invoice_settings")
        default = settings.get("default_payment_method") if isinstance(settings, dict) else None
        if default:
            default_pm = self._payment_method(str(default), param="invoice_settings[default_payment_method]")
            default_pm["customer"] = customer["id"]
            customer["invoice_settings"]["default_payment_method"] = default_pm["id"]
        elif pm_id:
            customer["invoice_settings"]["default_payment_method"] = pm_id
        return customer

    def update_customer(self, customer_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        customer = self._object(self.customers, "customer", customer_id)
        for field in ("email", "name"):
            if field in params:
                customer[field] = params[field] or None
        customer["metadata"] |= dict(params.get("metadata") or {})
        settings = params.get("invoice_settings")
        default = settings.get("default_payment_method") if isinstance(settings, dict) else None
        if default:
            pm = self._payment_method(str(default), param="invoice_settings[default_payment_method]")
            if pm["customer"] != customer_id:
                raise StripeApiError(
                    400,
                    f"No such PaymentMethod: '{default}'; it is not attached to customer {customer_id}.",
                    code="resource_missing",
                    param="invoice_settings[default_payment_method]",
                )
            customer["invoice_settings"]["default_payment_method"] = pm["id"]
        return customer

    def detach_all(self, customer_id: str) -> dict[str, Any]:
        customer = self._object(self.customers, "customer", customer_id)
        for pm in self.payment_methods.values():
            if pm["customer"] == customer_id:
                pm["customer"] = None
        customer["invoice_settings"]["default_payment_method"] = None
        return dict(customer)

    def _expand_customer(self, customer: Mapping[str, Any], expand: list[str]) -> dict[str, Any]:
        out = json.loads(json.dumps(customer))
        default = out["invoice_settings"]["default_payment_method"]
        if "invoice_settings.default_payment_method" in expand and default:
            out["invoice_settings"]["default_payment_method"] = self._public(self.payment_methods[default])
        return dict(out)

    # ---- payment intents ----------------------------------------------------------------------
    def create_payment_intent(self, params: Mapping[str, Any]) -> dict[str, Any]:
        amount = _int(params, "amount")
        if amount is None:
            raise StripeApiError(
                400, "Missing required param: amount.", code="parameter_missing", param="amount"
            )
        currency = str(params.get("currency", "")).lower()
        if currency != "jpy":
            raise StripeApiError(
                400, f"Invalid currency: {currency}. Only jpy is emulated.", param="currency"
            )
        if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
            raise StripeApiError(
                400,
                f"Amount must be at least ¥{MIN_AMOUNT} and at most ¥{MAX_AMOUNT:,}",
                code="amount_too_small" if amount < MIN_AMOUNT else "amount_too_large",
                param="amount",
            )
        capture_method = str(params.get("capture_method", "automatic"))
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise StripeApiError(400, f"Invalid capture_method: {capture_method}", param="capture_method")
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > 50:
            raise StripeApiError(400, "metadata must be a hash of at most 50 keys", param="metadata")
        customer = params.get("customer")
        if customer:
            self._object(self.customers, "customer", str(customer))
        intent: dict[str, Any] = {
            "id": self._new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "capture_method": capture_method,
            "cancellation_reason": None,
            "canceled_at": None,
            "client_secret": None,
            "confirmation_method": "automatic",
            "created": self._now(),
            "currency": "jpy",
            "customer": customer or None,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(metadata),
            "payment_method": None,
            "payment_method_types": list(params.get("payment_method_types") or ["card"]),
            "setup_future_usage": params.get("setup_future_usage"),
            "status": "requires_payment_method",
        }
        intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(8)}"
        if params.get("payment_method"):
            pm = self._payment_method(str(params["payment_method"]), param="payment_method")
            intent["payment_method"] = pm["id"]
            intent["status"] = "requires_confirmation"
        self.payment_intents[intent["id"]] = intent
        if _flag(params.get("confirm")):
            return self.confirm_payment_intent(intent["id"], params)
        if _flag(params.get("off_session")):
            raise StripeApiError(400, "off_session can only be used with confirm=true", param="off_session")
        return intent

    def confirm_payment_intent(self, intent_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        intent = self._intent(intent_id)
        if params.get("payment_method"):
            intent["payment_method"] = self._payment_method(
                str(params["payment_method"]), param="payment_method"
            )["id"]
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise self._unexpected_state(intent, "confirm")
        if not intent["payment_method"]:
            raise StripeApiError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self._public(intent)},
            )
        pm = self.payment_methods[intent["payment_method"]]
        off_session = _flag(params.get("off_session"))
        if off_session and intent["customer"] and pm["customer"] != intent["customer"]:
            raise StripeApiError(
                400,
                "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
                "attachment, shared with a connected account without Customer attachment, or was "
                "detached from a Customer. It may not be used again.",
                code="payment_method_unexpected_state",
                param="payment_method",
            )
        if intent["setup_future_usage"] and intent["customer"]:
            pm["customer"] = intent["customer"]  # saved for later (off-session) charges
        test_card = str(pm.get("_test_card", "pm_card_visa"))
        failure = TEST_CARDS.get(test_card, ("visa", None))[1]
        if off_session and test_card == "pm_card_authenticationRequired":
            failure = (
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            )
        charge = self._new_charge(intent, pm, failed=failure)
        intent["latest_charge"] = charge["id"]
        if failure is not None:
            code, decline_code, message = failure
            error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": message}
            intent["last_payment_error"] = error | {"payment_method": self._public(pm)}
            intent["status"] = "requires_payment_method"
            raise StripeApiError(
                402,
                message,
                kind="card_error",
                code=code,
                decline_code=decline_code,
                extra={"charge": charge["id"], "payment_intent": self._public(intent)},
            )
        intent["last_payment_error"] = None
        if intent["capture_method"] == "manual":
            intent |= {"status": "requires_capture", "amount_capturable": intent["amount"]}
            self._emit("payment_intent.amount_capturable_updated", intent)
        else:
            self._capture_charge(intent, charge, intent["amount"])
            self._emit("payment_intent.succeeded", intent)
        return intent

    def capture_payment_intent(self, intent_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            raise self._unexpected_state(intent, "capture")
        amount = _int(params, "amount_to_capture", intent["amount_capturable"])
        assert amount is not None
        if not 0 < amount <= intent["amount_capturable"]:
            raise StripeApiError(
                400,
                "The amount to capture must be positive and at most the amount capturable.",
                code="amount_too_large" if amount > 0 else "amount_too_small",
                param="amount_to_capture",
            )
        charge = self.charges[intent["latest_charge"]]
        self._capture_charge(intent, charge, amount)
        self._emit("payment_intent.succeeded", intent)
        return intent

    def cancel_payment_intent(self, intent_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        intent = self._intent(intent_id)
        if intent["status"] in ("succeeded", "canceled", "processing"):
            raise self._unexpected_state(intent, "cancel")
        reason = params.get("cancellation_reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"):
            raise StripeApiError(400, f"Invalid cancellation_reason: {reason}", param="cancellation_reason")
        self._cancel(intent, str(reason) if reason else None)
        return intent

    def expire_payment_intent(self, intent_id: str) -> dict[str, Any]:
        """The card network's hold lapsed: Stripe cancels the intent itself."""
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            raise self._unexpected_state(intent, "expire")
        self._cancel(intent, "automatic")
        return dict(intent)

    def _cancel(self, intent: dict[str, Any], reason: str | None) -> None:
        charge = self.charges.get(intent["latest_charge"] or "")
        if charge is not None and not charge["captured"] and charge["status"] == "succeeded":
            # the released authorization shows as a full refund of the uncaptured charge
            charge |= {"amount_refunded": charge["amount"], "refunded": True}
            charge["payment_method_details"]["card"]["capture_before"] = None
        intent |= {
            "status": "canceled",
            "cancellation_reason": reason,
            "canceled_at": self._now(),
            "amount_capturable": 0,
        }
        self._emit("payment_intent.canceled", intent)

    @staticmethod
    def _unexpected_state(intent: Mapping[str, Any], action: str) -> StripeApiError:
        return StripeApiError(
            400,
            f"This PaymentIntent could not be {action}ed because it has a status of {intent['status']}.",
            code="payment_intent_unexpected_state",
            extra={"payment_intent": StripeEmulator._public(intent)},
        )

    def _new_charge(
        self, intent: Mapping[str, Any], pm: Mapping[str, Any], *, failed: tuple[str, str, str] | None
    ) -> dict[str, Any]:
        now = self._now()
        manual = intent["capture_method"] == "manual"
        charge: dict[str, Any] = {
            "id": self._new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "created": now,
            "currency": "jpy",
            "customer": intent["customer"],
            "disputed": False,
            "failure_code": failed[0] if failed else None,
            "failure_message": failed[2] if failed else None,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {"type": "issuer_declined" if failed else "authorized"},
            "paid": failed is None,
            "payment_intent": intent["id"],
            "payment_method": pm["id"],
            "payment_method_details": {
                "type": "card",
                "card": {
                    "brand": pm["card"]["brand"],
                    "last4": pm["card"]["last4"],
                    "amount_authorized": None if failed else intent["amount"],
                    "capture_before": now + AUTHORIZATION_HOLD_SECONDS if manual and not failed else None,
                    "network": pm["card"]["brand"],
                },
            },
            "refunded": False,
            "status": "failed" if failed else "succeeded",
            "_refund_fail": pm.get("_test_card") == "pm_card_refundFail",
        }
        self.charges[charge["id"]] = charge
        return charge

    def _capture_charge(self, intent: dict[str, Any], charge: dict[str, Any], amount: int) -> None:
        charge |= {"captured": True, "amount_captured": amount}
        charge["payment_method_details"]["card"]["capture_before"] = None
        intent |= {"status": "succeeded", "amount_received": amount, "amount_capturable": 0}

    def _expand_intent(self, intent: Mapping[str, Any], expand: list[str]) -> dict[str, Any]:
        out = self._public(intent)
        charge_id = out.get("latest_charge")
        # expanding a nested path (``latest_charge.refunds``) expands its parents too, as in Stripe
        if charge_id and any(e == "latest_charge" or e.startswith("latest_charge.") for e in expand):
            nested = [e.removeprefix("latest_charge.") for e in expand if e.startswith("latest_charge.")]
            out["latest_charge"] = self._expand_charge(self.charges[charge_id], nested)
        return json.loads(json.dumps(out))  # type: ignore[no-any-return]

    def _expand_charge(self, charge: Mapping[str, Any], expand: list[str]) -> dict[str, Any]:
        out = self._public(charge)
        if "refunds" in expand:
            data = [dict(r) for r in self.refunds.values() if r["charge"] == charge["id"]]
            data.sort(key=lambda r: r["created"], reverse=True)
            out["refunds"] = {
                "object": "list",
                "data": data,
                "has_more": False,
                "url": f"/v1/charges/{charge['id']}/refunds",
            }
        return json.loads(json.dumps(out))  # type: ignore[no-any-return]

    # ---- refunds ------------------------------------------------------------------------------
    def create_refund(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if params.get("payment_intent"):
            intent = self._object(self.payment_intents, "payment_intent", str(params["payment_intent"]))
            charge = self.charges.get(intent["latest_charge"] or "")
            if charge is None or not charge["captured"]:
                raise StripeApiError(
                    400,
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                    code="charge_not_refundable" if charge else "resource_missing",
                    param="payment_intent",
                )
        elif params.get("charge"):
            charge = self._object(self.charges, "charge", str(params["charge"]))
        else:
            raise StripeApiError(
                400,
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
        refundable = charge["amount_captured"] - charge["amount_refunded"]
        amount = _int(params, "amount", refundable)
        assert amount is not None
        if refundable <= 0:
            raise StripeApiError(
                400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        if not 0 < amount <= refundable:
            raise StripeApiError(
                400,
                f"Refund amount (¥{amount}) is greater than unrefunded amount on charge (¥{refundable})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise StripeApiError(400, f"Invalid reason: {reason}", param="reason")
        will_fail = bool(charge.get("_refund_fail"))
        refund = {
            "id": self._new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": self._now(),
            "currency": "jpy",
            "metadata": dict(params.get("metadata") or {}),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "pending" if will_fail else "succeeded",
            "failure_reason": None,
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self._emit("charge.refunded", charge)  # unexpanded: webhooks carry no refunds list
        if will_fail:
            # Stripe's refundFail card: the refund is accepted, then the issuer rejects it
            refund |= {"status": "failed", "failure_reason": "expired_or_canceled_card"}
            charge["amount_refunded"] -= amount
            charge["refunded"] = False
            self._emit("charge.refund.updated", refund)
        return dict(refund)

    # ---- disputes -----------------------------------------------------------------------------
    def open_dispute(self, charge_id: str) -> dict[str, Any]:
        charge = self._object(self.charges, "charge", charge_id)
        if not charge["captured"] or charge["disputed"]:
            raise StripeApiError(400, f"Charge {charge_id} cannot be disputed now.", param="charge")
        dispute = {
            "id": self._new_id("dp"),
            "object": "dispute",
            "amount": charge["amount_captured"] - charge["amount_refunded"],
            "charge": charge_id,
            "created": self._now(),
            "currency": "jpy",
            "payment_intent": charge["payment_intent"],
            "reason": "fraudulent",
            "status": "needs_response",
        }
        charge["disputed"] = True
        self.disputes[dispute["id"]] = dispute
        self._emit("charge.dispute.created", dispute)
        return dict(dispute)

    def close_dispute(self, dispute_id: str, status: str) -> dict[str, Any]:
        dispute = self._object(self.disputes, "dispute", dispute_id)
        if status not in ("won", "lost"):
            raise StripeApiError(400, "status must be won or lost", param="status")
        dispute["status"] = status
        self._emit("charge.dispute.closed", dispute)
        return dict(dispute)

    # ---- webhooks -----------------------------------------------------------------------------
    def _emit(self, event_type: str, obj: Mapping[str, Any]) -> None:
        event = {
            "id": self._new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._now(),
            "data": {"object": json.loads(json.dumps(self._public(obj)))},
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self.events.append(event)
        if self.webhook_url and self.deliver and event_type in self.enabled_events:
            body = json.dumps(event).encode()
            self.send_webhook(self.webhook_url, body, lambda: self._webhook_headers(body))

    def _webhook_headers(self, body: bytes) -> dict[str, str]:
        """Signed at each attempt, as Stripe does: the signature's time is the attempt's."""
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(body, self.webhook_secret, int(self.wall_clock())),
        }
