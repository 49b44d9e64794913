"""One DynamoDB request at a time in moto, so the sandbox keeps DynamoDB's atomicity promises.

Real DynamoDB evaluates a condition and writes in one step, and applies a transaction all or
nothing. moto does neither under concurrency: a conditional put reads the current item, evaluates
the condition and stores, with nothing stopping another thread in between (two outcome claims of
one payment can both succeed, so a capture and the automatic cancel both reach the provider); and a
failed transaction is rolled back by restoring a deep copy of the whole table taken when it
started, which also wipes writes other threads committed meanwhile (a payment version survives
without its history entry). The sandbox serves requests on threads, and so do the tests.

Serializing moto's DynamoDB request handling restores per-request atomicity. The clients' own races
— read, decide, write across separate requests — stay exactly as concurrent as before, so the code's
version checks and claims are still what keeps the rules.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

#: re-entrant: a request that triggers another in the same thread (a stream) must not deadlock
LOCK = threading.RLock()
_INSTALL_LOCK = threading.Lock()
_original_call_action = DynamoHandler.call_action


def _call_action(self: DynamoHandler) -> Any:
    with LOCK:
        return _original_call_action(self)


def install() -> None:
    """Idempotent: every DynamoDB request to moto in this process runs alone."""
    with _INSTALL_LOCK:
        DynamoHandler.call_action = _call_action  # type: ignore[method-assign]


def uninstall() -> None:
    with _INSTALL_LOCK:
        DynamoHandler.call_action = _original_call_action  # type: ignore[method-assign]
