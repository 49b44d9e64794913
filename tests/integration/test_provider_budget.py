"""Provider calls from the admin API end inside API Gateway's 29 s: one budget for all attempts
(issue 10 item 9). A provider on 127.0.0.1 that hangs or keeps failing; budgets are small so the
tests are fast; without the budget the same calls would take 3 × 10 s read timeouts or more."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from cardops.payments.providers import budget
from cardops.payments.providers.base import TransientProviderError
from cardops.payments.providers.http import ProviderHttp
from cardops.payments.providers.stripe.client import StripeClient, StripeSettings
from cardops.sandbox.lambda_runner import FakeContext


class SlowProvider:
    """Hangs every request until released (``hang``), or answers 503 at once."""

    def __init__(self, *, hang: bool) -> None:
        self.release = threading.Event()
        self.requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                provider.requests += 1
                if hang:
                    provider.release.wait(15)
                body = json.dumps({"error": {"code": "unavailable", "message": "try later"}}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hanging() -> Iterator[SlowProvider]:
    server = SlowProvider(hang=True)
    yield server
    server.stop()


@pytest.fixture
def failing() -> Iterator[SlowProvider]:
    server = SlowProvider(hang=False)
    yield server
    server.stop()


def test_a_hanging_provider_gives_up_within_the_budget_not_per_attempt(hanging: SlowProvider) -> None:
    http = ProviderHttp(
        base_url=hanging.url, auth_header=lambda: "Basic x", provider="payjp", read_timeout=10.0
    )
    started = time.monotonic()
    with budget.call_budget(0.3), pytest.raises(TransientProviderError) as raised:
        http.request("GET", "/v1/charges/ch_1")
    elapsed = time.monotonic() - started
    assert raised.value.code == budget.DEADLINE_EXCEEDED
    assert "time budget" in str(raised.value)
    assert elapsed < 5.0  # 3 attempts × 10 s read timeout without the budget


def test_backoff_never_sleeps_past_the_budget(failing: SlowProvider) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # really sleeps: the budget is wall-clock time
        slept.append(seconds)
        time.sleep(seconds)

    http = ProviderHttp(
        base_url=failing.url,
        auth_header=lambda: "Basic x",
        provider="payjp",
        max_attempts=10,
        backoff_base=0.05,
        sleep=sleep,
    )
    with budget.call_budget(0.5), pytest.raises(TransientProviderError) as raised:
        http.request("POST", "/v1/charges/ch_1/capture", idempotency_key="k1")
    assert raised.value.code == budget.DEADLINE_EXCEEDED
    assert sum(slept) < 0.5 and failing.requests < 10
    assert "try later" in str(raised.value)  # the provider's last answer is kept in the message


def test_without_a_budget_the_client_keeps_its_own_attempts(failing: SlowProvider) -> None:
    http = ProviderHttp(
        base_url=failing.url,
        auth_header=lambda: "Basic x",
        provider="payjp",
        max_attempts=3,
        sleep=lambda s: None,
    )
    with pytest.raises(TransientProviderError) as raised:
        http.request("GET", "/v1/charges/ch_1")
    assert raised.value.code != budget.DEADLINE_EXCEEDED and failing.requests == 3


def test_stripe_client_shares_the_budget(hanging: SlowProvider) -> None:
    client = StripeClient(
        StripeSettings(api_key=SecretStr("sk_test_x"), base_url=hanging.url, read_timeout=10.0, max_retries=3)
    )
    started = time.monotonic()
    with budget.call_budget(0.3), pytest.raises(TransientProviderError) as raised:
        client.retrieve("pi_1")
    assert raised.value.code == budget.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 5.0


def test_budget_from_the_lambda_context_is_capped_below_api_gateway() -> None:
    assert budget.for_lambda(30_000) == budget.ADMIN_CAP_SECONDS
    assert budget.for_lambda(1_500) == pytest.approx(0.5)
    assert budget.for_lambda(500) == 0.0


@dataclass
class ShortContext(FakeContext):
    remaining_millis: int = 1_500

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def test_admin_capture_against_a_hanging_provider_answers_504_in_time(
    provisioned: Any, hanging: SlowProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardops.handlers.admin import handler
    from cardops.kernel import clock
    from cardops.kernel.calendar import tokyo_date
    from cardops.kernel.config import reset_settings
    from cardops.payments.domain.payments import PaymentStatus
    from cardops.payments.providers import registry
    from cardops.payments.store.payments import PaymentRepository
    from cardops.sandbox.gateway import api_gateway_event
    from tests.integration.deadline.conftest import RecordingProvider, authorize

    monkeypatch.setenv("PAYJP_API_BASE", hanging.url)
    reset_settings()
    registry.reset()
    try:
        authorize(
            RecordingProvider(),
            "ch_hang",
            visit_date=tokyo_date(clock.now()) + timedelta(days=3),
            start_workflow=False,
        )
        event = api_gateway_event(
            "POST", "/admin/payments/payjp/ch_hang/capture", {"Content-Type": "application/json"}, b"{}"
        )
        started = time.monotonic()
        result = handler(event, ShortContext("admin"))
        elapsed = time.monotonic() - started
    finally:
        registry.reset()
    assert result["statusCode"] == 504, result
    assert json.loads(result["body"])["error"]["code"] == "provider_timeout"
    assert elapsed < 5.0
    payment = PaymentRepository().get("payjp", "ch_hang")
    assert payment is not None and payment.status is PaymentStatus.AUTHORIZED
