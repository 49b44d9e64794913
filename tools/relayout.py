"""The bounded-context relayout of ``functions/cardops`` (issue 14), as data plus a rewriter.

``MOVES`` maps each old module to its new home. ``python tools/relayout.py FILE...`` rewrites
every reference to an old module path in the given files (imports, ``from X import module``
forms, dotted strings such as handler names and monkeypatch targets), so a branch started before
the relayout can be brought over after ``git merge main``. Running it twice changes nothing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MOVES: dict[str, str] = {
    # kernel: what every slice shares
    "cardops.domain.money": "cardops.kernel.money",
    "cardops.domain.calendar": "cardops.kernel.calendar",
    "cardops.clock": "cardops.kernel.clock",
    "cardops.config": "cardops.kernel.config",
    "cardops.backoff": "cardops.kernel.backoff",
    "cardops.safe_json": "cardops.kernel.safe_json",
    "cardops.observability": "cardops.kernel.observability",
    "cardops.adapters.aws": "cardops.kernel.aws",
    "cardops.adapters.dynamodb": "cardops.kernel.dynamodb",
    "cardops.adapters.secrets": "cardops.kernel.secrets",
    "cardops.api.identity": "cardops.kernel.identity",
    # payments
    "cardops.domain.payments": "cardops.payments.domain.payments",
    "cardops.domain.capture_deadline": "cardops.payments.domain.capture_deadline",
    "cardops.domain.repayment": "cardops.payments.domain.repayment",
    "cardops.domain.repayment_requests": "cardops.payments.domain.repayment_requests",
    "cardops.domain.reservations": "cardops.payments.domain.reservations",
    "cardops.domain.payment_notes": "cardops.payments.domain.payment_notes",
    "cardops.domain.refunds": "cardops.payments.domain.refunds",
    "cardops.domain.webhook_signatures": "cardops.payments.domain.webhook_signatures",
    "cardops.services.webhook_intake": "cardops.payments.use_cases.webhook_intake",
    "cardops.services.event_processing": "cardops.payments.use_cases.event_processing",
    "cardops.services.payment_events": "cardops.payments.use_cases.payment_events",
    "cardops.services.capture": "cardops.payments.use_cases.capture",
    "cardops.services.refunds": "cardops.payments.use_cases.refunds",
    "cardops.services.repayment": "cardops.payments.use_cases.repayment",
    "cardops.services.janitor": "cardops.payments.use_cases.janitor",
    "cardops.services.workflows": "cardops.payments.use_cases.listeners",
    "cardops.adapters.claims": "cardops.payments.store.claims",
    "cardops.adapters.dead_letters": "cardops.payments.store.dead_letters",
    "cardops.adapters.events": "cardops.payments.store.notifications",
    "cardops.adapters.evidence_store": "cardops.payments.store.evidence",
    "cardops.adapters.payment_notes": "cardops.payments.store.payment_notes",
    "cardops.adapters.queue": "cardops.payments.store.queue",
    "cardops.adapters.repayment_store": "cardops.payments.store.repayment",
    "cardops.adapters.workflow_starter": "cardops.payments.store.workflow_starter",
    "cardops.adapters.providers": "cardops.payments.providers",
    "cardops.api.webhooks": "cardops.payments.routes.webhooks",
    "cardops.api.views": "cardops.payments.routes.views",
    "cardops.api.routes.capture": "cardops.payments.routes.capture",
    "cardops.api.routes.events": "cardops.payments.routes.events",
    "cardops.api.routes.payments": "cardops.payments.routes.payments",
    "cardops.api.routes.refunds": "cardops.payments.routes.refunds",
    "cardops.api.routes.repayment": "cardops.payments.routes.repayment",
    # ledger
    "cardops.domain.ledger": "cardops.ledger.domain.ledger",
    "cardops.domain.fees": "cardops.ledger.domain.fees",
    "cardops.domain.payouts": "cardops.ledger.domain.payouts",
    "cardops.services.ledger": "cardops.ledger.use_cases",
    "cardops.adapters.ledger_store": "cardops.ledger.store",
    "cardops.api.routes.ledger": "cardops.ledger.routes",
    # feeds
    "cardops.domain.feeds": "cardops.feeds.domain",
    "cardops.services.feed_sync": "cardops.feeds.use_cases.sync",
    "cardops.services.card_lines": "cardops.feeds.use_cases.card_lines",
    "cardops.adapters.feed_store": "cardops.feeds.store",
    "cardops.api.routes.feeds": "cardops.feeds.routes.feeds",
    "cardops.api.routes.tenants": "cardops.feeds.routes.tenants",
}

# Names that left a module: the payments' repositories are the payments slice's store, and the
# DynamoDB base's helpers became public.
_REPOSITORIES = (
    "PaymentRepository",
    "RawEventStore",
    "ReservationRepository",
    "PARKED_EVENTS",
    "OPEN_SHARDS",
)
_PUBLIC = (("_s", "s"), ("_n", "n"), ("_table", "table_name"), ("_transient", "is_transient"))
for _base in ("cardops.adapters" + ".dynamodb", "cardops.kernel.dynamodb"):
    for _name in (*_REPOSITORIES, "open_shard"):
        MOVES[f"{_base}.{_name}"] = f"cardops.payments.store.payments.{_name}"
    for _old, _new in _PUBLIC:
        MOVES[f"{_base}.{_old}"] = f"cardops.kernel.dynamodb.{_new}"

# Old paths by length, longest first, so a package prefix never shadows a module inside it.
_OLD = sorted(MOVES, key=len, reverse=True)
_DOTTED = re.compile(r"\bcardops(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_FROM_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from (?P<package>cardops(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r" import (?P<names>[^\n(]+?)[ \t]*$",
    re.MULTILINE,
)


def new_path(dotted: str) -> str:
    """The new dotted path of ``dotted`` (a module, or an attribute inside one)."""
    for old in _OLD:
        if dotted == old or dotted.startswith(old + "."):
            return MOVES[old] + dotted[len(old) :]
    return dotted


def _rewrite_from_import(match: re.Match[str]) -> str:
    """``from cardops.adapters import aws, queue as q`` → one line per new parent package."""
    indent, package, names = match["indent"], match["package"], match["names"]
    groups: dict[str, list[str]] = {}
    for part in names.split(","):
        name = part.strip()
        if not name:
            continue
        base, _, alias = name.partition(" as ")
        base = base.strip()
        moved = new_path(f"{package}.{base}")
        if moved == f"{package}.{base}":
            parent, leaf = new_path(package), base
        else:
            parent, _, leaf = moved.rpartition(".")
        alias = alias.strip()
        if leaf != base and not alias:
            alias = base
        groups.setdefault(parent, []).append(f"{leaf} as {alias}" if alias and alias != leaf else leaf)
    return "\n".join(f"{indent}from {parent} import {', '.join(items)}" for parent, items in groups.items())


def rewrite(text: str) -> str:
    """Every old module path in ``text`` replaced by its new one."""
    text = _FROM_IMPORT.sub(_rewrite_from_import, text)
    return _DOTTED.sub(lambda m: new_path(m.group(0)), text)


def main(argv: list[str]) -> int:
    changed = 0
    for arg in argv:
        path = Path(arg)
        if not path.is_file() or path.resolve() == Path(__file__).resolve():
            continue
        try:
            before = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        after = rewrite(before)
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed += 1
            print(f"rewrote {path}")
    print(f"{changed} file(s) rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
