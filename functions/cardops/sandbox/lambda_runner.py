"""Runs the real handlers in-process when moto's Step Functions interpreter invokes a Lambda.

moto's "simple" Lambda backend (``lambda.use_docker = False``) answers invocations with a canned
value; replacing its ``invoke`` with a function that imports the configured handler and calls it
executes our code, errors included (``x-amz-function-error``), exactly where AWS would.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from cardops import resources
from cardops.kernel import aws

Handler = Callable[[Any, Any], Any]


@dataclass
class FakeContext:
    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


_ROUTES: dict[str, str] = {}
#: Powertools keeps the current API event on a class attribute shared by every resolver in the
#: process, so API handlers run one at a time here (a Lambda container serves one event at a time).
API_LOCK = threading.RLock()
API_HANDLERS = frozenset(
    {"cardops.handlers.webhook.handler", "cardops.handlers.admin.handler", "cardops.handlers.console.handler"}
)
_LOCK = threading.Lock()
_original_invoke = LambdaSimpleBackend.invoke


def resolve(dotted: str) -> Handler:
    module, _, attr = dotted.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module), attr)
    return handler


#: one event at a time per handler, as in a Lambda container: handlers keep per-process state (the
#: processor's Powertools BatchProcessor holds the batch being processed), and in the sandbox the queue
#: worker and ``cardops invoke processor`` would otherwise share it mid-batch
_HANDLER_LOCKS: dict[str, threading.RLock] = {}


def _handler_lock(dotted: str) -> threading.RLock:
    if dotted in API_HANDLERS:
        return API_LOCK
    with _LOCK:
        return _HANDLER_LOCKS.setdefault(dotted, threading.RLock())


#: dotted handler path → function key (whose role the handler runs with)
FUNCTION_KEYS = {spec.handler: key for key, spec in resources.FUNCTIONS.items()}


def run_as(function: str, handler: Handler) -> Handler:
    """``handler`` running with the credentials of ``function``'s own role (``aws.acting_as``)."""

    def run(event: Any, context: Any) -> Any:
        with aws.acting_as(function):
            return handler(event, context)

    run.__wrapped__ = handler  # type: ignore[attr-defined]
    return run


def invoke_handler(dotted: str, event: Any, function_name: str) -> Any:
    """Run a handler as its function's role (a handler no function deploys runs as the caller)."""
    key = FUNCTION_KEYS.get(dotted)
    with _handler_lock(dotted), aws.acting_as(key) if key else contextlib.nullcontext():
        return resolve(dotted)(event, FakeContext(function_name=function_name))


def _invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes | None:
    name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
    dotted = _ROUTES.get(name)
    if dotted is None:
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)  # type: ignore[return-value]
    raw = body.decode() if isinstance(body, bytes) else (body or "{}")
    try:
        result = invoke_handler(dotted, json.loads(raw or "{}"), name)
    except Exception as exc:
        response_headers["x-amz-function-error"] = "Unhandled"
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)[-5:],
        }
        return json.dumps(error).encode()
    return json.dumps(result, default=str).encode()


def install(routes: dict[str, str]) -> None:
    """Route moto Lambda function names to dotted handler paths (idempotent, additive)."""
    with _LOCK:
        _ROUTES.update(routes)
        LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]


def uninstall() -> None:
    with _LOCK:
        _ROUTES.clear()
        LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
