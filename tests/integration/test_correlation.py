"""Operations (issue 10 item 10): every function is traced, and its log lines carry a correlation id
(API Gateway's request id for the APIs, the SQS message id for the processor)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from cardops import resources
from cardops.sandbox.gateway import api_gateway_event
from cardops.sandbox.lambda_runner import FakeContext, resolve
from tests.conftest import sample
from tests.helpers import sqs_event


def _wrappers(function: Any) -> Iterator[str]:
    while function is not None:
        code = getattr(function, "__code__", None)
        yield code.co_qualname if code is not None else ""
        function = getattr(function, "__wrapped__", None)


@pytest.mark.parametrize("name", sorted(resources.FUNCTIONS))
def test_every_function_is_traced(name: str) -> None:
    handler = resolve(resources.FUNCTIONS[name].handler)
    wrappers = list(_wrappers(handler))
    assert any("capture_lambda_handler" in w for w in wrappers), (name, wrappers)
    assert any("inject_lambda_context" in w for w in wrappers), (name, wrappers)


def _lines(logger: Any, caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    formatter = logger.registered_formatter
    return [json.loads(formatter.format(r)) for r in caplog.records if r.getMessage() == message]


@pytest.fixture
def info_logs() -> Iterator[None]:
    from cardops.api import admin
    from cardops.handlers import processor
    from cardops.payments.routes import webhooks

    loggers = (admin.logger, webhooks.logger, processor.logger)
    for logger in loggers:
        logger.setLevel("INFO")
    yield
    for logger in loggers:
        logger.setLevel("WARNING")


API_CASES = {
    "admin": ("cardops.api.admin", "GET", "/admin/stores/store-1/uncaptured", 200, "admin answer"),
    "webhook": ("cardops.payments.routes.webhooks", "POST", "/webhooks/unknown", 404, "webhook rejected"),
}


@pytest.mark.parametrize("function", sorted(API_CASES))
def test_api_log_lines_carry_the_api_gateway_request_id(
    provisioned: Any, info_logs: None, caplog: pytest.LogCaptureFixture, function: str
) -> None:
    module, method, path, status, message = API_CASES[function]
    handler = resolve(resources.FUNCTIONS[function].handler)
    logger = importlib.import_module(module).logger
    event = api_gateway_event(
        method, path, {"Content-Type": "application/json"}, b"{}" if method == "POST" else b""
    )
    event["requestContext"]["requestId"] = f"req-{function}-0001"
    assert handler(event, FakeContext(function))["statusCode"] == status
    [line] = _lines(logger, caplog, message)
    assert line["correlation_id"] == f"req-{function}-0001"


def test_processor_log_lines_carry_the_sqs_message_id_and_event_id(
    provisioned: Any, info_logs: None, caplog: pytest.LogCaptureFixture
) -> None:
    from cardops.handlers import processor

    body = sample("webhooks/stripe/payment_intent.amount_capturable_updated.json")
    event_id = json.loads(body)["id"]
    message = {"provider": "stripe", "event_id": event_id, "body": body}
    result = processor.handler(sqs_event(message, "msg-0001"), FakeContext("processor"))
    assert result == {"batchItemFailures": []}
    [line] = _lines(processor.logger, caplog, "payment changed")
    assert line["correlation_id"] == "msg-0001" and line["event_id"] == event_id
