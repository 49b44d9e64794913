"""What follows a payment change: the listeners the change feed runs for every write of a payment.

The feed is the table's stream (``handlers/changes.py``): whoever writes a payment — the processor,
the janitor, the admin API, a workflow step — only writes it, and every listener runs for that
change at least once, after the write and in a process of its own. So a crash after the write
loses nothing, and a redelivery may run a listener again: each one decides from the change alone
(``Change(old, new)``) and is idempotent (ledger entries keyed by their cause, refunds moved only
forward, executions named after the payment). The listeners themselves are wired in
``payments.wiring.payment_listeners``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cardops.payments.domain.changes import Change

PaymentListener = Callable[[Change], None]


@dataclass(frozen=True)
class NamedListener:
    name: str
    run: PaymentListener


class ListenersFailed(Exception):
    """Some listeners failed on a change: the feed delivers the change again (all of them rerun)."""

    def __init__(self, change: Change, failures: dict[str, BaseException]) -> None:
        names = ", ".join(f"{name} ({type(exc).__name__})" for name, exc in failures.items())
        super().__init__(f"listeners failed on {change.key}: {names}")
        self.failures = failures


def run_listeners(change: Change, listeners: Sequence[NamedListener]) -> None:
    """Run each listener; one failing does not keep the others from running, and fails the change."""
    failures: dict[str, BaseException] = {}
    for listener in listeners:
        try:
            listener.run(change)
        except Exception as exc:
            failures[listener.name] = exc
    if failures:
        raise ListenersFailed(change, failures) from next(iter(failures.values()))
