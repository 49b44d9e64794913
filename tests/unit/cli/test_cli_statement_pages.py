"""``cardops stores statement`` follows ``next_cursor`` to the end: every entry once, oldest first."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cardops.cli.client import AdminClient
from cardops.cli.ledger_commands import statement_pages


def test_the_statement_command_follows_the_cursor_to_the_last_page(monkeypatch: pytest.MonkeyPatch) -> None:
    amounts = [500, -200, 300, 1000, -50]
    pages = {None: (0, "c2"), "c2": (2, "c4"), "c4": (4, None)}
    asked: list[dict[str, list[str]]] = []

    def request(self: AdminClient, method: str, path: str, body: Any = None, **_: Any) -> Any:
        query = parse_qs(urlsplit(path).query)
        asked.append(query)
        start, following = pages[query.get("cursor", [None])[0]]
        chunk = amounts[start : start + 2]
        before = sum(amounts[:start])
        balances = [before + sum(chunk[: i + 1]) for i in range(len(chunk))]
        return {
            "summary": {"balance": sum(amounts)},
            "entries": [{"amount": a, "entry_id": f"e{start + i}"} for i, a in enumerate(chunk)],
            "balances": balances,
            "opening_balance": before,
            "closing_balance": balances[-1],
            "next_cursor": following,
        }

    monkeypatch.setattr(AdminClient, "request", request)
    data = statement_pages(AdminClient({"ApiUrl": "http://127.0.0.1:9/"}), "s1", {"channel": "standard"})
    assert [e["entry_id"] for e in data["entries"]] == ["e0", "e1", "e2", "e3", "e4"]
    assert data["balances"] == [500, 300, 600, 1600, 1550] and data["opening_balance"] == 0
    assert data["next_cursor"] is None
    assert [q.get("cursor") for q in asked] == [None, ["c2"], ["c4"]]
    assert all(q["channel"] == ["standard"] for q in asked)
