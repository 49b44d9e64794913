"""Fixtures of the integration tests: a webhook endpoint for the provider emulators."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from cardops.sandbox.loopback import LoopbackServer, send


class Receiver:
    """A webhook endpoint that keeps each delivery's body and ``Stripe-Signature`` (if any)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, str]] = []
        self._lock = threading.Lock()
        self.server = LoopbackServer(self._dispatch, name="webhooks")

    def _dispatch(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        with self._lock:
            self.deliveries.append((body, request.headers.get("Stripe-Signature", "")))
        send(request, 200, "application/json", b'{"received": true}')


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    hook.server.start()
    yield hook
    hook.server.stop()
