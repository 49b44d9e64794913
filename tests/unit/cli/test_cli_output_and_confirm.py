"""The CLI against a deployed stack asks before moving money (``--yes`` skips it); ``CARDOPS_STACK``
picks the stack; ``--output table|json`` and ``--query`` (JMESPath) on every command that prints
data (issue 15 item 6). The admin API is a recorder here: what it did not receive was not moved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cardops.cli import client as cli_client
from cardops.cli.client import AdminClient
from cardops.cli.main import cli

#: every command that moves money (or posts ledger entries): each asks on a deployed stack
MONEY_MOVING = {
    "payments capture",
    "payments refund",
    "refunds amend",
    "refunds cancel",
    "refunds debit-memo",
    "refunds reverse",
    "repayment approve",
    "stores adjust",
    "stores payout",
    "stores settle",
    "ledger reconcile",
    "invoke",  # any function with any event: the admin function captures, the janitor refunds
}

UNCAPTURED = {
    "store_id": "s1",
    "count": 2,
    "payments": [
        {"provider": "payjp", "provider_payment_id": "ch_1", "amount": 1200, "currency": "JPY",
         "capture_deadline": "2026-12-17T14:59:59.999999Z", "deadline_bound": "business",
         "hours_left": 30.5, "reservation_id": "r1", "visit_date": "2026-12-10"},
        {"provider": "stripe", "provider_payment_id": "pi_2", "amount": 800, "currency": "JPY",
         "capture_deadline": None, "deadline_bound": None, "hours_left": None,
         "reservation_id": None, "visit_date": None},
    ],
}  # fmt: skip
CAPTURED = {"status": "captured", "captured_amount": 1200, "currency": "JPY"}


class Api:
    """Records every request the CLI sends and the target it was sent to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []
        self.stacks: list[str | None] = []

    def answer(self, method: str, path: str) -> Any:
        return UNCAPTURED if path.endswith("/uncaptured") else CAPTURED


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Api:
    recorder = Api()
    monkeypatch.delenv("CARDOPS_STACK", raising=False)

    def load(outputs: Path | None, stack: str | None, profile: str | None, region: str | None) -> AdminClient:
        recorder.stacks.append(stack)
        if stack:  # a deployed stack: its API is signed (SigV4)
            return AdminClient({"ApiUrl": "https://api.invalid/prod/"}, sign=True, stack=stack)
        return AdminClient({"ApiUrl": "http://127.0.0.1:9/"})

    def request(self: AdminClient, method: str, path: str, body: Any = None, **_: Any) -> Any:
        recorder.sent.append((method, path, body))
        return recorder.answer(method, path)

    monkeypatch.setattr(cli_client, "load_outputs", load)
    monkeypatch.setattr(AdminClient, "request", request)
    return recorder


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input, env=env)


CAPTURE = ("payments", "capture", "payjp", "ch_1", "--amount", "1200")


def test_a_deployed_capture_asks_and_an_abort_sends_nothing(api: Api) -> None:
    result = run(*CAPTURE, "--stack", "cardops-prod", input="n\n")
    assert result.exit_code == 1
    assert "Capture 1200 of payjp/ch_1 on stack cardops-prod. Continue?" in result.output
    assert "Aborted" in result.output
    assert api.sent == []


def test_a_deployed_capture_without_an_answer_sends_nothing(api: Api) -> None:
    result = run(*CAPTURE, "--stack", "cardops-prod", input="")
    assert result.exit_code == 1
    assert api.sent == []


def test_a_deployed_capture_goes_ahead_when_confirmed(api: Api) -> None:
    result = run(*CAPTURE, "--stack", "cardops-prod", input="y\n")
    assert result.exit_code == 0, result.output
    assert api.sent == [("POST", "/admin/payments/payjp/ch_1/capture", {"amount": 1200})]


def test_yes_skips_the_question(api: Api) -> None:
    result = run(*CAPTURE, "--stack", "cardops-prod", "--yes")
    assert result.exit_code == 0, result.output
    assert "Continue?" not in result.output
    assert len(api.sent) == 1


def test_the_sandbox_is_not_asked(api: Api) -> None:
    result = run(*CAPTURE)
    assert result.exit_code == 0, result.output
    assert "Continue?" not in result.output
    assert len(api.sent) == 1


def test_cardops_stack_selects_the_stack(api: Api) -> None:
    result = run(*CAPTURE, input="n\n", env={"CARDOPS_STACK": "cardops-staging"})
    assert "on stack cardops-staging" in result.output
    assert api.stacks == ["cardops-staging"] and api.sent == []


def test_an_outputs_file_on_the_command_line_wins_over_cardops_stack(api: Api, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text("{}")
    result = run(*CAPTURE, "--outputs", str(outputs), env={"CARDOPS_STACK": "cardops-prod"})
    assert result.exit_code == 0, result.output
    assert api.stacks == [None]


def test_output_json_parses(api: Api) -> None:
    result = run("stores", "uncaptured", "s1", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == UNCAPTURED
    assert json.loads(run("stores", "uncaptured", "s1", "--json").output) == UNCAPTURED


def test_the_default_stays_the_readable_table(api: Api) -> None:
    result = run("stores", "uncaptured", "s1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("payment") and "payjp/ch_1" in result.output


def test_query_selects_with_jmespath(api: Api) -> None:
    result = run(
        "stores", "uncaptured", "s1", "--output", "json", "--query", "payments[].provider_payment_id"
    )
    assert json.loads(result.output) == ["ch_1", "pi_2"]
    result = run("stores", "uncaptured", "s1", "--output", "json", "--query", "payments[?amount > `1000`]")
    assert [row["provider_payment_id"] for row in json.loads(result.output)] == ["ch_1"]


def test_query_in_a_table_shows_the_selected_records(api: Api) -> None:
    result = run(
        "stores", "uncaptured", "s1", "--query", "payments[].{id: provider_payment_id, amount: amount}"
    )
    assert result.exit_code == 0, result.output
    header, _rule, *rows = result.output.strip("\n").splitlines()
    assert header.split() == ["id", "amount"]
    assert [row.split() for row in rows] == [["ch_1", "1200"], ["pi_2", "800"]]


def test_a_bad_query_or_contradicting_flags_are_usage_errors(api: Api) -> None:
    result = run("stores", "uncaptured", "s1", "--query", "payments[")
    assert result.exit_code == 2 and "JMESPath" in result.output
    result = run("stores", "uncaptured", "s1", "--json", "--output", "table")
    assert result.exit_code == 2
    assert api.sent == []


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


def test_exactly_the_money_moving_commands_ask_and_every_data_command_has_output_options() -> None:
    commands = _commands(cli)
    asking = {name for name, command in commands.items() if any(p.name == "yes" for p in command.params)}
    assert asking == MONEY_MOVING
    for name, command in commands.items():
        params = {p.name for p in command.params}
        if "as_json" in params:
            assert {"output_format", "query", "stack"} <= params, name
