"""The sandbox's HTTP servers (API gateway, PAY.JP emulator): threaded, 127.0.0.1 only."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Dispatch = Callable[[BaseHTTPRequestHandler], None]


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


def send(request: BaseHTTPRequestHandler, status: int, content_type: str, payload: bytes) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(payload)))
    request.end_headers()
    request.wfile.write(payload)
