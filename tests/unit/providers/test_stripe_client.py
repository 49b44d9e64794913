"""The Stripe client (the official SDK underneath) against a scripted Stripe-like server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import SecretStr, ValidationError

from cardops.payments.domain.payments import PaymentStatus
from cardops.payments.providers.base import PaymentProvider, PermanentProviderError, TransientProviderError
from cardops.payments.providers.http import form_encode
from cardops.payments.providers.stripe.client import (
    API_VERSION,
    BudgetedHttpClient,
    StripeClient,
    StripeSettings,
)
from cardops.payments.providers.stripe.events import refund_total_key

from . import stripe_payloads as sp

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

SECRET = "sk_test_51QzAbC2eZvKYlo2Cfake"
INTENT = "pi_3QzAbC2eZvKYlo2C0xyz9876"
CHARGE = "ch_3QzAbC2eZvKYlo2C0abc1234"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    form: list[tuple[str, str]]

    @property
    def form_dict(self) -> dict[str, str]:
        return dict(self.form)


@dataclass
class FakeStripe:
    url: str
    replies: list[Reply] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    lock = threading.Lock()
    state = FakeStripe(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            with lock:
                state.seen.append(
                    Seen(
                        method=self.command,
                        path=parts.path,
                        query=parse_qsl(parts.query, keep_blank_values=True),
                        headers={k: v for k, v in self.headers.items()},
                        form=parse_qsl(raw.decode(), keep_blank_values=True),
                    )
                )
                reply = (
                    state.replies.pop(0) if state.replies else Reply(500, {"error": {"type": "api_error"}})
                )
            if reply.delay:
                time.sleep(reply.delay)
            data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_test{len(state.seen)}")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        do_GET = _handle
        do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Sleeps(list[float]):
    """The pauses the SDK's retry loop takes (tests keep them to milliseconds)."""


class RecordingHttp(BudgetedHttpClient):
    def __init__(self, settings: StripeSettings, sleeps: Sleeps) -> None:
        super().__init__(settings)
        self.sleeps = sleeps

    def _sleep_time_seconds(self, num_retries: int) -> float:
        pause = super()._sleep_time_seconds(num_retries)
        self.sleeps.append(pause)
        return pause


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(server: FakeStripe, sleeps: Sleeps, **settings: Any) -> StripeClient:
    settings.setdefault("backoff_base", 0.002)
    settings.setdefault("backoff_cap", 0.01)
    config = StripeSettings(api_key=SecretStr(SECRET), base_url=server.url, **settings)
    return StripeClient(config, http_client=RecordingHttp(config, sleeps))


def expanded_intent(**kwargs: Any) -> dict[str, Any]:
    charge_kwargs: dict[str, Any] = kwargs.pop("charge", {})
    return sp.payment_intent(latest_charge=sp.charge(**charge_kwargs), **kwargs)


def test_client_satisfies_the_provider_protocol(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    provider: PaymentProvider = client(fake_stripe, sleeps)
    assert provider.name == "stripe"


def test_retrieve_maps_an_authorized_intent(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    fake_stripe.script(Reply(200, expanded_intent(charge={"refunds": []})))
    payment = client(fake_stripe, sleeps).retrieve(INTENT)

    seen = fake_stripe.seen[0]
    assert (seen.method, seen.path) == ("GET", f"/v1/payment_intents/{INTENT}")
    assert seen.query == [("expand[0]", "latest_charge"), ("expand[1]", "latest_charge.refunds")]
    assert seen.headers["Authorization"] == f"Bearer {SECRET}"
    assert seen.headers["Stripe-Version"] == API_VERSION
    assert "Idempotency-Key" not in seen.headers

    facts = payment.facts
    assert facts.status() is PaymentStatus.AUTHORIZED
    assert (facts.currency, facts.authorized_amount, facts.captured_amount) == ("JPY", 12000, 0)
    assert facts.authorized_at == datetime(2025, 3, 1, tzinfo=UTC)
    assert facts.authorization_expires_at == datetime(2025, 3, 8, tzinfo=UTC)
    assert payment.metadata.store_id == "store_042"
    assert payment.metadata.reservation_id == "rsv_20250301_0007"
    assert payment.metadata.visit_date == date(2025, 3, 5)
    assert payment.metadata.accepted_at == datetime(2025, 3, 1, tzinfo=UTC)
    assert payment.metadata.mcc == "7230"
    assert (payment.customer_id, payment.card_brand) == ("cus_RqPz8a9bCdEfGh", "visa")
    assert payment.payment_method_id == "pm_1QzAbC2eZvKYlo2CcardPM"
    assert sleeps == []


def test_retrieve_maps_refunds_and_a_dispute(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    charge = {
        "captured": True,
        "amount_captured": 12000,
        "amount_refunded": 3000,
        "disputed": True,
        "refunds": [sp.refund(), sp.refund(refund_id="re_failed", amount=2000, status="failed")],
    }
    fake_stripe.script(
        Reply(
            200,
            expanded_intent(status="succeeded", amount_capturable=0, amount_received=12000, charge=charge),
        )
    )
    facts = client(fake_stripe, sleeps).retrieve(INTENT).facts
    assert facts.captured_amount == 12000
    assert facts.refunded_amount == 3000  # the failed refund counts zero
    assert facts.refunds["re_failed"].state == "failed"
    assert facts.disputes == {CHARGE: "open"}
    assert facts.status() is PaymentStatus.DISPUTED


def test_capture_sends_amount_and_idempotency_key(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    captured = expanded_intent(
        status="succeeded",
        amount_capturable=0,
        amount_received=8000,
        charge={"captured": True, "amount_captured": 8000},
    )
    fake_stripe.script(Reply(200, captured))
    payment = client(fake_stripe, sleeps).capture(INTENT, amount=8000, idempotency_key="cap-pi-1")

    seen = fake_stripe.seen[0]
    assert (seen.method, seen.path) == ("POST", f"/v1/payment_intents/{INTENT}/capture")
    assert seen.headers["Idempotency-Key"] == "cap-pi-1"
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.form_dict["amount_to_capture"] == "8000"
    assert payment.facts.captured_amount == 8000
    assert payment.facts.status() is PaymentStatus.CAPTURED


def test_full_capture_sends_no_amount(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    fake_stripe.script(Reply(200, expanded_intent(status="succeeded", amount_received=12000)))
    client(fake_stripe, sleeps).capture(INTENT, amount=None, idempotency_key="cap-pi-2")
    assert "amount_to_capture" not in fake_stripe.seen[0].form_dict


def test_cancel_uses_reason_abandoned(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    fake_stripe.script(
        Reply(200, expanded_intent(status="canceled", amount_capturable=0, cancellation_reason="abandoned"))
    )
    payment = client(fake_stripe, sleeps).cancel_authorization(INTENT, idempotency_key="expire-pi-1")
    seen = fake_stripe.seen[0]
    assert seen.path == f"/v1/payment_intents/{INTENT}/cancel"
    assert seen.form_dict["cancellation_reason"] == "abandoned"
    assert seen.headers["Idempotency-Key"] == "expire-pi-1"
    assert payment.facts.canceled is True
    assert payment.facts.status() is PaymentStatus.CANCELED


@pytest.mark.parametrize(
    ("reason", "stripe_reason", "kept"),
    [
        ("requested_by_customer", "requested_by_customer", None),
        ("customer_request", "requested_by_customer", None),
        ("duplicate", "duplicate", None),
        ("fraud", "fraudulent", None),
        ("store_correction", None, "store_correction"),
        (None, None, None),
    ],
)
def test_refund_maps_the_reason_and_encodes_metadata(
    fake_stripe: FakeStripe, sleeps: Sleeps, reason: str | None, stripe_reason: str | None, kept: str | None
) -> None:
    after = expanded_intent(
        status="succeeded",
        amount_received=12000,
        charge={
            "captured": True,
            "amount_captured": 12000,
            "amount_refunded": 3000,
            "refunds": [sp.refund()],
        },
    )
    fake_stripe.script(Reply(200, sp.refund()), Reply(200, after))
    payment = client(fake_stripe, sleeps).refund(
        INTENT, amount=3000, idempotency_key="refund-r1", reason=reason, metadata={"refund_id": "r1"}
    )

    post, get = fake_stripe.seen
    assert (post.method, post.path) == ("POST", "/v1/refunds")
    assert post.headers["Idempotency-Key"] == "refund-r1"
    form = post.form_dict
    assert form["payment_intent"] == INTENT
    assert form["amount"] == "3000"
    assert form.get("reason") == stripe_reason
    assert form["metadata[refund_id]"] == "r1"
    assert form.get("metadata[cardops_reason]") == kept
    assert (get.method, get.path) == ("GET", f"/v1/payment_intents/{INTENT}")
    assert payment.refund_id == "re_3QzAbC2eZvKYlo2C0ref001"
    assert payment.facts.refunds[refund_total_key(CHARGE)].amount == 3000
    assert payment.facts.status() is PaymentStatus.PARTIALLY_REFUNDED


def test_charge_again_is_an_off_session_confirmed_charge(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    new_intent = expanded_intent(
        intent_id="pi_new",
        status="succeeded",
        capture_method="automatic",
        amount_capturable=0,
        amount_received=12000,
        charge={"intent_id": "pi_new", "charge_id": "ch_new", "captured": True, "amount_captured": 12000},
    )
    fake_stripe.script(Reply(200, new_intent))
    payment = client(fake_stripe, sleeps).charge_again(
        customer_id="cus_RqPz8a9bCdEfGh",
        payment_method_id="pm_1QzAbC2eZvKYlo2CcardPM",
        amount=12000,
        currency="JPY",
        metadata={"original_payment_id": INTENT, "repayment_request_id": "rq_1", "store_id": "store_042"},
        idempotency_key="repay-rq_1",
    )
    seen = fake_stripe.seen[0]
    assert (seen.method, seen.path) == ("POST", "/v1/payment_intents")
    assert seen.headers["Idempotency-Key"] == "repay-rq_1"
    form = seen.form_dict
    assert form["off_session"] == "true"
    assert form["confirm"] == "true"
    assert form["currency"] == "jpy"
    assert (form["customer"], form["payment_method"]) == ("cus_RqPz8a9bCdEfGh", "pm_1QzAbC2eZvKYlo2CcardPM")
    assert form["metadata[original_payment_id]"] == INTENT
    assert payment.provider_payment_id == "pi_new"
    assert payment.facts.status() is PaymentStatus.CAPTURED


def test_a_lock_timeout_429_is_retried_with_the_same_idempotency_key(
    fake_stripe: FakeStripe, sleeps: Sleeps
) -> None:
    lock_timeout = {"error": {"type": "invalid_request_error", "code": "lock_timeout", "message": "busy"}}
    fake_stripe.script(
        Reply(429, lock_timeout, headers={"Stripe-Should-Retry": "true"}),
        Reply(200, expanded_intent(status="succeeded", amount_received=12000)),
    )
    payment = client(fake_stripe, sleeps, backoff_base=0.004).capture(
        INTENT, amount=None, idempotency_key="cap-same"
    )

    assert len(fake_stripe.seen) == 2
    first, second = fake_stripe.seen
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == "cap-same"
    assert first.form == second.form
    assert len(sleeps) == 1 and 0.002 <= sleeps[0] <= 0.004  # half the window fixed, half jitter
    assert payment.facts.captured_amount == 12000


def test_a_rate_limit_is_transient_and_left_to_the_caller(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    """The SDK retries a 429 only when Stripe says so (a lock timeout); a rate limit goes back to the
    workflow or queue, whose own backoff is longer than a request's."""
    rate_limited = {
        "error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}
    }
    fake_stripe.script(Reply(429, rate_limited))
    with pytest.raises(TransientProviderError) as info:
        client(fake_stripe, sleeps).capture(INTENT, amount=None, idempotency_key="cap-429")
    assert (info.value.status, info.value.code) == (429, "rate_limit")
    assert len(fake_stripe.seen) == 1 and sleeps == []


def test_500_until_retries_run_out_is_transient(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    api_error = {"error": {"type": "api_error", "message": "An unknown error occurred"}}
    fake_stripe.script(*[Reply(500, api_error) for _ in range(4)])
    stripe = client(fake_stripe, sleeps, max_retries=3, backoff_base=0.01, backoff_cap=0.03)
    with pytest.raises(TransientProviderError) as info:
        stripe.capture(INTENT, amount=None, idempotency_key="cap-500")
    assert info.value.status == 500
    assert info.value.code == "api_error"
    assert stripe.attempts == len(fake_stripe.seen) == 4
    assert {s.headers["Idempotency-Key"] for s in fake_stripe.seen} == {"cap-500"}
    # windows 0.01, 0.02, then capped at 0.03: each sleep in [window/2, window]
    assert [0.005 <= sleeps[0] <= 0.01, 0.01 <= sleeps[1] <= 0.02, 0.015 <= sleeps[2] <= 0.03] == [True] * 3


def test_402_card_declined_is_permanent_and_not_retried(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    declined = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "payment_intent": sp.payment_intent(status="requires_payment_method"),
        }
    }
    fake_stripe.script(Reply(402, declined))
    with pytest.raises(PermanentProviderError) as info:
        client(fake_stripe, sleeps).charge_again(
            customer_id="cus_1",
            payment_method_id="pm_1",
            amount=12000,
            currency="JPY",
            metadata={},
            idempotency_key="repay-declined",
        )
    assert (info.value.code, info.value.status) == ("card_declined", 402)
    assert "insufficient_funds" in str(info.value)
    assert len(fake_stripe.seen) == 1 and sleeps == []


def test_should_retry_false_makes_a_5xx_permanent(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    fake_stripe.script(Reply(500, {"error": {"type": "api_error"}}, headers={"Stripe-Should-Retry": "false"}))
    with pytest.raises(PermanentProviderError):
        client(fake_stripe, sleeps).refund(INTENT, amount=100, idempotency_key="refund-stored-500")
    assert len(fake_stripe.seen) == 1


def test_should_retry_true_retries_a_4xx(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    conflict = {"error": {"type": "idempotency_error", "message": "concurrent request with this key"}}
    fake_stripe.script(
        Reply(400, conflict, headers={"Stripe-Should-Retry": "true"}),
        Reply(200, expanded_intent(status="canceled", cancellation_reason="abandoned")),
    )
    client(fake_stripe, sleeps).cancel_authorization(INTENT, idempotency_key="expire-1")
    assert len(fake_stripe.seen) == 2


def test_invalid_request_is_permanent_with_stripes_code(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    error = {
        "error": {
            "type": "invalid_request_error",
            "code": "payment_intent_unexpected_state",
            "message": "This PaymentIntent could not be captured because it has a status of canceled.",
        }
    }
    fake_stripe.script(Reply(400, error))
    with pytest.raises(PermanentProviderError) as info:
        client(fake_stripe, sleeps).capture(INTENT, amount=None, idempotency_key="cap-late")
    assert info.value.code == "payment_intent_unexpected_state"


def test_a_read_timeout_is_transient_after_retries(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    fake_stripe.script(Reply(200, expanded_intent(), delay=1.0), Reply(200, expanded_intent(), delay=1.0))
    stripe = client(fake_stripe, sleeps, read_timeout=0.2, max_retries=1)
    with pytest.raises(TransientProviderError) as info:
        stripe.retrieve(INTENT)
    # both 1 s replies were cut off by the 0.2 s read timeout (a reply that arrived would succeed)
    assert info.value.code == "timeout"
    assert stripe.attempts == 2


def test_a_timeout_then_success_recovers(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    fake_stripe.script(Reply(200, expanded_intent(), delay=1.0), Reply(200, expanded_intent()))
    payment = client(fake_stripe, sleeps, read_timeout=0.2).capture(INTENT, amount=None, idempotency_key="k")
    assert payment.provider_payment_id == INTENT
    assert [s.headers["Idempotency-Key"] for s in fake_stripe.seen] == ["k", "k"]


def test_a_refused_connection_is_transient(sleeps: Sleeps) -> None:
    with socket_on_free_port() as port:
        url = f"http://127.0.0.1:{port}"
    config = StripeSettings(api_key=SecretStr(SECRET), base_url=url, max_retries=2, backoff_base=0.001)
    stripe = StripeClient(config, http_client=RecordingHttp(config, sleeps))
    with pytest.raises(TransientProviderError) as info:
        stripe.retrieve(INTENT)
    assert info.value.code == "connection_error"
    assert stripe.attempts == 3 and len(sleeps) == 2


def test_a_proxy_error_page_is_transient(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    fake_stripe.script(*[Reply(502, raw=b"<html>Bad Gateway</html>") for _ in range(2)])
    with pytest.raises(TransientProviderError) as info:
        client(fake_stripe, sleeps, max_retries=1).retrieve(INTENT)
    assert (info.value.status, info.value.code) == (502, "http_502")


def test_a_response_that_is_not_a_payment_intent_is_permanent(
    fake_stripe: FakeStripe, sleeps: Sleeps
) -> None:
    fake_stripe.script(Reply(200, {"object": "customer", "id": "cus_1"}))
    with pytest.raises(PermanentProviderError, match="unexpected Stripe response"):
        client(fake_stripe, sleeps).retrieve(INTENT)


def test_the_secret_key_never_appears_in_errors(fake_stripe: FakeStripe, sleeps: Sleeps) -> None:
    fake_stripe.script(Reply(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}))
    with pytest.raises(PermanentProviderError) as info:
        client(fake_stripe, sleeps).retrieve(INTENT)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(StripeSettings(api_key=SecretStr(SECRET)))


@pytest.mark.parametrize("bad_id", ["", "pi_1/../../v1/charges", "pi_1?expand[]=customer"])
def test_ids_cannot_rewrite_the_path(fake_stripe: FakeStripe, sleeps: Sleeps, bad_id: str) -> None:
    with pytest.raises(PermanentProviderError):
        client(fake_stripe, sleeps).retrieve(bad_id)
    assert fake_stripe.seen == []


@pytest.mark.parametrize(
    "url", ["http://api.stripe.com", "ftp://127.0.0.1", "not a url", "http://10.0.0.5:8080"]
)
def test_settings_refuse_clear_text_to_non_loopback_hosts(url: str) -> None:
    with pytest.raises(ValidationError):
        StripeSettings(api_key=SecretStr(SECRET), base_url=url)


def test_settings_defaults() -> None:
    settings = StripeSettings(api_key=SecretStr(SECRET))
    assert settings.base_url == "https://api.stripe.com"
    assert (settings.connect_timeout, settings.read_timeout) == (3.0, 10.0)


def test_form_encode_matches_stripes_nesting() -> None:
    assert form_encode(
        {
            "amount": 100,
            "off_session": True,
            "capture": False,
            "skip": None,
            "metadata": {"store_id": "s1", "note": "予約"},
            "expand": ["latest_charge", "customer"],
            "payment_method_options": {"card": {"request_three_d_secure": "any"}},
        }
    ) == [
        ("amount", "100"),
        ("off_session", "true"),
        ("capture", "false"),
        ("metadata[store_id]", "s1"),
        ("metadata[note]", "予約"),
        ("expand[0]", "latest_charge"),
        ("expand[1]", "customer"),
        ("payment_method_options[card][request_three_d_secure]", "any"),
    ]


def test_form_encode_agrees_with_the_official_library() -> None:
    from stripe._encode import _api_encode  # tests only: the official encoder as the oracle

    params = {"amount": 100, "metadata": {"a": "1", "b": "x y"}, "expand": ["latest_charge"], "confirm": True}
    ours = dict(form_encode(params))
    theirs = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in _api_encode(params)
    }
    assert ours == theirs


class socket_on_free_port:
    """Reserve then release a loopback port, so nothing listens on it."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def test_the_pinned_api_version_is_the_one_the_pinned_sdk_speaks() -> None:
    """A lock bump that moves the SDK to another API version must move ``API_VERSION`` with it."""
    from stripe._api_version import _ApiVersion

    assert API_VERSION == _ApiVersion.CURRENT
    assert StripeSettings(api_key=SecretStr(SECRET)).api_version == API_VERSION


def test_a_key_reused_with_other_params_is_a_permanent_idempotency_error(
    fake_stripe: FakeStripe, sleeps: Sleeps
) -> None:
    """Stripe's answer when the same key comes with other parameters: a bug of ours, never retried."""
    reused = {
        "error": {
            "type": "idempotency_error",
            "message": "Keys for idempotent requests can only be used with the same parameters.",
        }
    }
    fake_stripe.script(Reply(400, reused))
    with pytest.raises(PermanentProviderError) as info:
        client(fake_stripe, sleeps).capture(INTENT, amount=100, idempotency_key="cap-reused")
    assert (info.value.code, info.value.status) == ("idempotency_error", 400)
    assert len(fake_stripe.seen) == 1 and sleeps == []
