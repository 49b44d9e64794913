"""Support-case fixtures: the real stack in moto (IAM enforced), the sandbox clock reset around each test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from tests.openapi_conformance import check_answer

DESK = "arn:aws:iam::000000000000:user/desk-ito"


@pytest.fixture
def support(provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Retry intervals of the definition elapse at once (the number of attempts is still real)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    from cardops.kernel import clock

    clock.reset()
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))
    yield provisioned
    clock.reset()


def admin(method: str, path: str, body: dict[str, Any] | None = None, *, user: str = DESK) -> tuple[int, Any]:
    """The admin API as the IAM caller ``user`` (the history records who acted)."""
    from cardops.handlers import admin as admin_handler

    return _call_as(admin_handler.handler, method, path, body, user)


def _call_as(handler: Any, method: str, path: str, body: dict[str, Any] | None, user: str) -> tuple[int, Any]:
    import base64
    import json

    from cardops.sandbox.gateway import api_gateway_event
    from cardops.sandbox.lambda_runner import FakeContext

    raw = json.dumps(body).encode() if body is not None else b""
    event = api_gateway_event(method, path, {"Content-Type": "application/json"}, raw, user_arn=user)
    result = handler(event, FakeContext(function_name="test"))
    payload = result.get("body") or ""
    if result.get("isBase64Encoded"):
        payload = base64.b64decode(payload).decode()
    answer = int(result["statusCode"]), json.loads(payload) if payload else None
    check_answer(method, path, *answer)  # the OpenAPI document says what this route answers
    return answer


def open_case(body: dict[str, Any], *, user: str = DESK) -> dict[str, Any]:
    code, answer = admin("POST", "/admin/cases", body, user=user)
    assert code == 201, answer
    return dict(answer)


def execution_arn(provisioned: Any, case_id: str) -> str:
    machine: str = provisioned.state_machine_arns["SupportCase"]
    return machine.replace(":stateMachine:", ":execution:") + ":" + case_id


def history(arn: str) -> list[dict[str, Any]]:
    from cardops.kernel import aws

    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn}
    while True:
        page: Any = aws.stepfunctions().get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def waits_entered(arn: str) -> int:
    return sum(1 for e in history(arn) if e["type"] == "WaitStateEntered")


def wait_until(predicate: Any, *, timeout: float = 15.0, what: str = "condition") -> None:
    stop = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < stop, f"timed out waiting for {what}"
        time.sleep(0.03)


def status(arn: str) -> str:
    from cardops.kernel import aws

    return str(aws.stepfunctions().describe_execution(executionArn=arn)["status"])


def advance_to(moment: datetime) -> None:
    """Move the sandbox clock just past ``moment`` (waiting executions follow it)."""
    from cardops.kernel import clock

    delta = moment - clock.now() + timedelta(seconds=2)
    if delta > timedelta(0):
        clock.advance(delta)
