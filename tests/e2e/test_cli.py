"""The admin CLI against the running sandbox: every command group, tables and ``--json`` parsed back,
and exit codes that mean something."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import payjp
import pytest
from click.testing import CliRunner, Result

from cardops.cli.main import cli
from tests.conftest import EVENTS, SandboxProcess
from tests.e2e.test_webhooks_e2e import get_payment
from tests.helpers import eventually

TENANT = "cli_tenant"
STORE = "cli_store"


@pytest.fixture
def run(sandbox: SandboxProcess, tmp_path: Path) -> Any:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(sandbox.outputs))

    def invoke(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, [*args, "--outputs", str(outputs)])
        assert result.exit_code == code, result.output
        return result

    return invoke


def as_json(result: Result) -> Any:
    return json.loads(result.output)


@pytest.fixture
def charge(sandbox: SandboxProcess) -> Any:
    payjp.api_base = sandbox.outputs["PayjpApiBaseUrl"]
    payjp.api_key = sandbox.outputs["PayjpSecretKey"]
    created = payjp.Charge.create(
        amount=10000,
        currency="jpy",
        card="tok_visa",
        capture=False,
        expiry_days=30,
        metadata={"store_id": STORE, "reservation_id": "rsv_cli", "visit_date": "2027-01-10",
                  "accepted_at": "2026-11-20T10:00:00+09:00"},
    )  # fmt: skip
    eventually(lambda: get_payment(sandbox, "payjp", created.id))
    return created


def test_payment_commands(run: Any, sandbox: SandboxProcess, charge: Any) -> None:
    shown = as_json(run("payments", "show", "payjp", charge.id, "--json"))
    assert shown["status"] == "authorized" and shown["amount"] == 10000
    table = run("payments", "show", "payjp", charge.id).output
    assert "status" in table and "authorized" in table and "history:" in table

    uncaptured = as_json(run("stores", "uncaptured", STORE, "--json"))
    assert charge.id in json.dumps(uncaptured)

    run("payments", "capture", "payjp", charge.id, "--amount", "8000", "--json")
    captured = eventually(
        lambda: (p := get_payment(sandbox, "payjp", charge.id)) and p["status"] == "captured" and p
    )
    assert captured["captured_amount"] == 8000

    refund = as_json(
        run(
            "payments",
            "refund",
            "payjp",
            charge.id,
            "--amount",
            "1000",
            "--reason",
            "customer_request",
            "--json",
        )
    )
    assert refund["amount"] == 1000
    # the sandbox's operator is who acted, as the IAM caller is when deployed (never "admin")
    from cardops.sandbox.gateway import sandbox_user_arn

    assert [step["actor"] for step in refund["history"]][:1] == [sandbox_user_arn()]
    eventually(lambda: (p := get_payment(sandbox, "payjp", charge.id)) and p["refunded_amount"] == 1000)
    too_much = run(
        "payments", "refund", "payjp", charge.id, "--amount", "999999", "--reason", "other", code=1
    ).output  # fmt: skip
    assert "HTTP 4" in too_much or "exceed" in too_much.lower()


def test_store_ledger_commands(run: Any, charge: Any) -> None:
    run("payments", "capture", "payjp", charge.id, "--json")
    balance = as_json(run("stores", "balance", STORE, "--json"))
    assert "standard" in json.dumps(balance)
    statement = as_json(run("stores", "statement", STORE, "--json"))
    assert "sale" in json.dumps(statement)
    adjusted = as_json(
        run(
            "stores",
            "adjust",
            STORE,
            "--amount",
            "-100000",
            "--reason",
            "tax_rate_change",
            "--memo",
            "cli",
            "--json",
        )
    )
    assert "adjustment" in json.dumps(adjusted)
    refused = run("stores", "payout", STORE, code=1).output
    assert "shortfall" in refused.lower() or "negative" in refused.lower()


def test_calendar_command_works_offline() -> None:
    assert CliRunner().invoke(cli, ["calendar", "payout-date", "2026-12-10"]).output.strip() == "2027-01-15"
    bad = CliRunner().invoke(cli, ["calendar", "payout-date", "2026-13-01"])
    assert bad.exit_code == 2 and bad.output


def test_feed_commands(run: Any, sandbox: SandboxProcess) -> None:
    run("feeds", "tenant", TENANT, "--corporate-number", "5835678256246", "--json")
    imported = as_json(
        run("feeds", "import-employees", TENANT, str(EVENTS / "feeds" / "employees.csv"), "--json")
    )
    assert "E001" in json.dumps(imported) or imported
    s3 = boto3.client(
        "s3",
        endpoint_url=sandbox.outputs["AwsEndpointUrl"],
        region_name="ap-northeast-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    s3.put_object(
        Bucket=sandbox.outputs["FeedBucketName"],
        Key=f"feeds/{TENANT}/generic/generic_2026-05-07.csv",
        Body=(EVENTS / "feeds" / "generic_2026-05-07.csv").read_bytes(),
    )
    summary = as_json(run("feeds", "sync", "--date", "2026-05-07", "--json"))
    assert summary["status"] == "completed"
    assert summary["lines_read"] >= 1
    errors = as_json(run("feeds", "errors", TENANT, "--json"))
    reasons = {e["reason"] for e in (errors if isinstance(errors, list) else errors.get("errors", []))}
    assert "name_small_kana" in reasons
    lines = as_json(run("feeds", "lines", TENANT, "E001", "--json"))
    assert lines is not None
    diagnosis = as_json(run("diagnose", TENANT, "E001", "--date", "2026-04-30", "--json"))
    assert diagnosis["cause"]
    skipped = as_json(run("feeds", "sync", "--date", "2026-05-05", "--json"))
    assert skipped["status"] in ("skipped_holiday", "skipped_weekend")


def test_repayment_list(run: Any) -> None:
    listed = as_json(run("repayment", "list", "--json"))
    assert isinstance(listed, list | dict)


def test_invoke_each_sample_webhook(run: Any, sandbox: SandboxProcess) -> None:
    for provider, sample in (
        ("stripe", "payment_intent.amount_capturable_updated.json"),
        ("sbps", "result_authorized.form"),
    ):
        result = as_json(
            run("invoke", "webhook", "--event", str(EVENTS / "webhooks" / provider / sample), "--json")
        )
        assert result["error"] is None
        assert result["result"]["statusCode"] == 200
    processed = as_json(
        run("invoke", "processor", "--event", str(EVENTS / "queue" / "processor_sqs_event.json"), "--json")
    )
    assert processed["result"] == {"batchItemFailures": []}


def test_errors_say_what_to_do(run: Any, tmp_path: Path) -> None:
    missing = run("payments", "show", "payjp", "ch_missing", code=1).output
    assert "404" in missing or "no payment" in missing
    result = CliRunner().invoke(
        cli, ["payments", "show", "payjp", "x", "--outputs", str(tmp_path / "none.json")]
    )
    assert result.exit_code == 1
    assert "make local" in result.output
