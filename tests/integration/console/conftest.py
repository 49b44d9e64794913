"""The console's handler in-process on moto, IAM enforced as its own role, signed in as anyone."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from cardops.console.tokens import SandboxIssuer, generate_sandbox_key
from cardops.console.web import SESSION_COOKIE, csrf_token
from cardops.sandbox.gateway import api_gateway_event
from cardops.sandbox.lambda_runner import FakeContext
from tests.integration.deadline.conftest import RecordingProvider
from tests.integration.feeds.conftest import feeds  # noqa: F401 - the card pages' tenants and lines
from tests.integration.repayment.conftest import emulator, env  # noqa: F401 - the support desk's requests


@dataclass
class Page:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Browser:
    """Requests as a browser sends them (cookie, urlencoded forms) to the console's handler."""

    def __init__(self, issuer: SandboxIssuer, claims: dict[str, Any] | None) -> None:
        from cardops.kernel import clock

        self.token = issuer.issue(claims, now=clock.now()) if claims else None

    @property
    def csrf(self) -> str:
        assert self.token is not None
        return csrf_token(self.token)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Page:
        from cardops.handlers import console

        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.token:
            headers["Cookie"] = f"{SESSION_COOKIE}={self.token}"
        body = urlencode(form or {}).encode()
        result = console.handler(api_gateway_event(method, path, headers, body), FakeContext("console-test"))
        raw = result.get("body") or ""
        text = base64.b64decode(raw).decode() if result.get("isBase64Encoded") else raw
        multi = result.get("multiValueHeaders") or {}
        return Page(
            status=int(result["statusCode"]),
            body=text,
            headers={k: str(v) for k, v in (result.get("headers") or {}).items()}
            | {k: str(v[0]) for k, v in multi.items() if v and k != "Set-Cookie"},
            cookies=list(multi.get("Set-Cookie", [])),
        )

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str], *, csrf: bool = True) -> Page:
        return self.request("POST", path, {**form, **({"csrf": self.csrf} if csrf else {})})


def text_of(page: Page) -> str:
    """The page without its tags, whitespace collapsed (what a reader sees)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.body))


@pytest.fixture
def console(provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxIssuer]:
    """The console as the sandbox runs it: sessions signed by this test's key."""
    from cardops.handlers import console as handler_module
    from cardops.kernel import clock
    from cardops.kernel.config import reset_settings

    key = generate_sandbox_key()
    monkeypatch.setenv("CONSOLE_SANDBOX_SIGNING_KEY", key)
    reset_settings()
    handler_module.console_app.cache_clear()
    clock.reset()
    yield SandboxIssuer.from_json(key)
    handler_module.console_app.cache_clear()
    clock.reset()


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> RecordingProvider:
    recording = RecordingProvider()
    from cardops.payments.providers import registry

    monkeypatch.setattr(registry, "provider_client", lambda name: recording)
    return recording


def store_admin(store: str) -> dict[str, Any]:
    return {"sub": f"admin-{store}", "cognito:groups": ["store_admin"], "custom:store_ids": store}


FINANCE = {"sub": "finance-1", "cognito:groups": ["finance"]}
