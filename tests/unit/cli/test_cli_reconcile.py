"""``cardops ledger reconcile --store S``: a table of both sides and the differences, JSON with
``--json``, and exit code 4 while differences remain unresolved (issue 11 item 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cardops.cli import ledger_commands
from cardops.cli.main import cli


def answer(*, unresolved: bool) -> dict[str, Any]:
    side = {"captured": 10_000, "refunded": 0, "charged_back": 0}
    difference = {
        "payment": "payjp/ch_1",
        "cause": "capture:payjp/ch_1",
        "kind": "sale",
        "finding": "mismatch" if unresolved else "missing",
        "expected": 10_000,
        "posted": 9_000 if unresolved else 0,
        "detail": "sale posted for another amount" if unresolved else "sale not posted",
        "repaired": not unresolved,
    }
    return {
        "store_id": "s1",
        "checked_payments": 1,
        "payments_side": side,
        "ledger_side": side,
        "repaired_entries": 0 if unresolved else 2,
        "differences": [difference],
        "unresolved_count": 1 if unresolved else 0,
    }


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"ApiUrl": "http://127.0.0.1:9/"}))
    return path


def run(monkeypatch: pytest.MonkeyPatch, outputs: Path, data: dict[str, Any], *extra: str) -> Any:
    sent: list[tuple[str, str, Any]] = []

    def fake_call(client: Any, method: str, path: str, body: Any = None, **_: Any) -> Any:
        sent.append((method, path, body))
        return data

    monkeypatch.setattr(ledger_commands, "call", fake_call)
    result = CliRunner().invoke(
        cli, ["ledger", "reconcile", "--store", "s1", "--outputs", str(outputs), *extra]
    )
    return result, sent


def test_a_repaired_store_exits_zero_with_a_table(monkeypatch: pytest.MonkeyPatch, outputs: Path) -> None:
    result, sent = run(monkeypatch, outputs, answer(unresolved=False))
    assert result.exit_code == 0, result.output
    assert sent == [("POST", "/admin/stores/s1/ledger/reconcile", {})]
    assert "repaired" in result.output and "ledger = payments" in result.output


def test_unresolved_differences_exit_four(monkeypatch: pytest.MonkeyPatch, outputs: Path) -> None:
    result, _ = run(monkeypatch, outputs, answer(unresolved=True), "--json")
    assert result.exit_code == ledger_commands.UNRESOLVED_EXIT == 4
    assert json.loads(result.output)["unresolved_count"] == 1


def test_since_needs_a_zone(monkeypatch: pytest.MonkeyPatch, outputs: Path) -> None:
    result, sent = run(monkeypatch, outputs, answer(unresolved=False), "--since", "2026-12-01T00:00:00")
    assert result.exit_code == 2 and sent == [] and "offset" in result.output
    result, sent = run(monkeypatch, outputs, answer(unresolved=False), "--since", "2026-12-01T00:00:00+09:00")
    assert result.exit_code == 0 and sent[0][2] == {"changed_since": "2026-12-01T00:00:00+09:00"}
