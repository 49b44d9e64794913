"""HTTP servers on 127.0.0.1 that turn requests into API Gateway's proxy events.

The same handlers as in AWS answer: ``/webhooks/*`` → the webhook function, ``/admin/*`` → the
admin function, ``/console`` and ``/console/*`` → the web console (whose cookies, redirects and
security headers pass through as API Gateway passes them): the REST API (``ApiUrl``). The webhook
HTTP API (``WebhookApiUrl``) is a second server with the one route, its events in payload format
1.0 as an HTTP API sends them; the admin HTTP API (``AdminApiUrl``) a third, with ``/admin/*``
only, IAM authorized as deployed (``cardops.sandbox.sigv4``: unsigned or wrongly signed requests
are refused with 403 before the function runs). The REST door's admin routes act as the configured
operator without a signature (the CLI calls them so). Bodies are passed base64-encoded, as API
Gateway does for binary media, so the webhook handler sees the exact bytes the provider signed.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from cardops.sandbox.lambda_runner import API_LOCK, FakeContext
from cardops.sandbox.loopback import LoopbackServer, send
from cardops.sandbox.sigv4 import Refused

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
#: (method, path with query, headers, body) → the caller's ARN, or ``Refused`` (403)
Authorizer = Callable[[str, str, dict[str, str], bytes], str]


class EventOf(Protocol):
    """(method, path with query, headers, body, the IAM caller) → the event the function receives."""

    def __call__(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, *, user_arn: str | None = None
    ) -> dict[str, Any]: ...


#: the largest body the sandbox reads (API Gateway's own limit is 10 MB); larger ones are refused unread
MAX_READ_BYTES = 10 * 1024 * 1024


#: the operator the sandbox's admin requests act as (a deployed API has the SigV4 caller here)
DEFAULT_SANDBOX_USER = "sandbox-operator"
SANDBOX_ACCOUNT = "000000000000"


def sandbox_user_arn(environ: Mapping[str, str] | None = None) -> str:
    """``CARDOPS_SANDBOX_USER``: an IAM ARN, or a user name in the sandbox account."""
    name = (os.environ if environ is None else environ).get("CARDOPS_SANDBOX_USER") or DEFAULT_SANDBOX_USER
    return name if name.startswith("arn:") else f"arn:aws:iam::{SANDBOX_ACCOUNT}:user/{name}"


def api_gateway_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, *, user_arn: str | None = None
) -> dict[str, Any]:
    """The REST proxy event API Gateway sends; admin routes carry the IAM caller (``user_arn``)."""
    parts = urlsplit(raw_path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["webhooks"] and len(segments) == 2:
        resource, path_parameters = "/webhooks/{provider}", {"provider": segments[1]}
    elif segments[:1] == ["console"]:
        resource, path_parameters = "/console/{proxy+}", {"proxy": "/".join(segments[1:])}
    else:
        resource, path_parameters = "/admin/{proxy+}", {"proxy": "/".join(segments[1:])}
    identity: dict[str, Any] = {"sourceIp": "127.0.0.1"}
    if resource.startswith("/admin"):
        arn = user_arn or sandbox_user_arn()
        fields = arn.split(":")
        identity.update(
            userArn=arn, user=arn.rsplit("/", 1)[-1], accountId=fields[4] if len(fields) > 4 else None
        )
    return {
        "resource": resource,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": parts.path,
            "stage": "sandbox",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": identity,
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def http_api_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, *, user_arn: str | None = None
) -> dict[str, Any]:
    """The event an HTTP API's Lambda integration sends in payload format 1.0 for its routes,
    ``POST /webhooks/{provider}`` (``WebhookApiUrl``) or ``ANY /admin/{proxy+}`` (``AdminApiUrl``,
    the IAM caller in ``identity``): the REST proxy event's fields, header names in lower case, the
    ``$default`` stage and the route key in the request context."""
    event = api_gateway_event(
        method, raw_path, {k.lower(): v for k, v in headers.items()}, body, user_arn=user_arn
    )
    admin = event["resource"].startswith("/admin")
    route = f"{'ANY' if admin else method} {event['resource']}"
    event["version"] = "1.0"
    event["requestContext"] |= {
        "stage": "$default",
        "resourceId": route,
        "routeKey": route,
        "apiId": "sandbox-admin" if admin else "sandbox-webhooks",
        "protocol": "HTTP/1.1",
    }
    return event


class Gateway:
    def __init__(
        self,
        *,
        webhook: Handler | None,
        admin: Handler | None,
        console: Handler | None = None,
        extra_routes: dict[str, Callable[[], tuple[int, str, bytes]]] | None = None,
        port: int = 0,
        event_of: EventOf = api_gateway_event,
        crash: tuple[int, str] = (502, ""),
        authorize: Authorizer | None = None,
    ) -> None:
        """``admin`` or ``webhook`` None: the other's routes only (an HTTP API); ``crash``: the
        status and message API Gateway answers when the function raises (REST: 502 and the error;
        HTTP API: 500 "Internal Server Error"); ``authorize``: the admin routes' IAM authorization
        (the caller's ARN, or ``Refused``: 403), None for the configured operator unsigned."""
        self._webhook = webhook
        self._admin = admin
        self._authorize = authorize
        self._console = console
        self._event_of = event_of
        self._crash = crash
        self._extra = extra_routes or {}
        self._http = LoopbackServer(self.dispatch, name="gateway", port=port)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def dispatch(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_READ_BYTES:
            send(request, 413, "application/json", b'{"message":"Request Too Long"}')
            request.close_connection = True
            return
        body = request.rfile.read(length) if length else b""
        path = urlsplit(request.path).path
        if path in self._extra and request.command == "GET":
            status, content_type, payload = self._extra[path]()
            send(request, status, content_type, payload)
            return
        headers = {k: v for k, v in request.headers.items()}
        user_arn = None
        if (
            self._webhook is not None
            and path.startswith("/webhooks/")
            and request.command == "POST"
            and path.count("/") == 2
        ):
            handler = self._webhook
        elif self._admin is not None and path.startswith("/admin/"):
            handler = self._admin
            if self._authorize is not None:
                try:
                    user_arn = self._authorize(request.command, request.path, headers, body)
                except Refused as refused:
                    send(request, 403, "application/json", json.dumps({"message": str(refused)}).encode())
                    return
        elif self._console is not None and (path == "/console" or path.startswith("/console/")):
            handler = self._console
        else:
            send(request, 404, "application/json", b'{"message":"Not Found"}')
            return
        event = self._event_of(request.command, request.path, headers, body, user_arn=user_arn)
        try:
            with API_LOCK:
                result = handler(event, FakeContext(function_name="sandbox-api"))
        except Exception as exc:  # what API Gateway answers when a function crashes
            status, message = self._crash
            send(request, status, "application/json", json.dumps({"message": message or str(exc)}).encode())
            return
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        content_type = "application/json"
        passed: list[tuple[str, str]] = []
        for key, value in (result.get("headers") or {}).items():
            if key.lower() == "content-type":
                content_type = value
            elif key.lower() not in _HOP_HEADERS:
                passed.append((key, str(value)))
        for key, values in (result.get("multiValueHeaders") or {}).items():
            if key.lower() == "content-type" and values:
                content_type = values[0]
            elif key.lower() not in _HOP_HEADERS:
                passed.extend((key, str(v)) for v in values)
        send(request, int(result.get("statusCode", 200)), content_type, payload, passed)


#: what the gateway itself sets (the body's length, the connection)
_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding"})
