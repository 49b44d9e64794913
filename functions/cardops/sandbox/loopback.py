"""The sandbox's HTTP servers (API gateway, provider emulators): threaded, 127.0.0.1 only."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import urllib3

Dispatch = Callable[[BaseHTTPRequestHandler], None]


class Faults(dict[str, list[str]]):
    """An emulator's fault switches: modes queued per operation, each taken by that operation's next
    call (``POST /_sandbox/faults``; tests may also set a queue directly)."""

    #: the most faults one switch queues
    MOST = 100

    def add(self, operation: str, mode: str, count: int) -> None:
        self.setdefault(operation, []).extend([mode] * max(0, min(count, self.MOST)))

    def take(self, operation: str) -> str | None:
        """The next queued mode of ``operation`` (removed), or ``None`` when none is queued."""
        queue = self.get(operation)
        return queue.pop(0) if queue else None


def sandbox_record(
    path: str, requests: Iterable[tuple[str | None, ...]], events: Iterable[dict[str, Any]]
) -> dict[str, Any] | None:
    """``GET /_sandbox/requests`` and ``GET /_sandbox/events``: what an emulator was asked (method,
    path, idempotency key) and what it emitted, for tests that run it in another process (the
    sandbox); ``None`` for any other path."""
    if path == "/_sandbox/requests":
        return {"requests": [list(r) for r in requests]}
    if path == "/_sandbox/events":
        return {"events": list(events)}
    return None


class _Server(ThreadingHTTPServer):
    """A backlog that takes a burst of concurrent deliveries (the default of 5 resets them)."""

    request_queue_size = 256
    daemon_threads = True


class LoopbackServer:
    """Hands every request, whatever its method, to one ``dispatch`` function."""

    def __init__(self, dispatch: Dispatch, *, name: str, port: int = 0) -> None:
        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _handle(self) -> None:
                dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = _Server(("127.0.0.1", port), RequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def send(
    request: BaseHTTPRequestHandler,
    status: int,
    content_type: str,
    payload: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    for name, value in headers or ():
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(payload)))
    request.end_headers()
    request.wfile.write(payload)


class EmulatorServer(ABC):
    """A provider emulator's server and its webhooks: each sent on its own thread after the change,
    retried briefly on 5xx or a failed connection (providers retry for days)."""

    #: deliveries of one webhook at most; the pause before attempt n is 0.2 s × n
    DELIVERY_ATTEMPTS = 5

    def __init__(self, *, name: str, port: int = 0) -> None:
        self._http = urllib3.PoolManager(maxsize=8)
        self._deliveries: list[threading.Thread] = []
        self._server = LoopbackServer(self._dispatch, name=name, port=port)

    @abstractmethod
    def _dispatch(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one request to the provider's API (each emulator's own routes)."""

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in list(self._deliveries):
            thread.join(max(0.0, deadline - time.monotonic()))

    def send_webhook(self, url: str, body: bytes, headers: Callable[[], Mapping[str, str]]) -> None:
        """POST ``body`` to ``url``; ``headers`` is called per attempt (a signature carries its time)."""
        thread = threading.Thread(target=self._deliver, args=(url, body, headers), daemon=True)
        self._deliveries.append(thread)
        thread.start()

    def _deliver(self, url: str, body: bytes, headers: Callable[[], Mapping[str, str]]) -> None:
        for attempt in range(self.DELIVERY_ATTEMPTS):
            try:
                response = self._http.request(
                    "POST", url, body=body, headers=dict(headers()), timeout=5.0, retries=False
                )
                if response.status < 500:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.2 * (attempt + 1))
