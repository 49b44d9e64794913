"""The admin CLI against the running sandbox: every command group, tables and ``--json`` parsed back,
and exit codes that mean something."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import boto3
import payjp
import pytest
import urllib3
from click.testing import CliRunner, Result

from cardops import resources
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
    # the sale is posted by the change feed, after the capture's write: wait for it
    balance = eventually(lambda: (b := as_json(run("stores", "balance", STORE, "--json")))["ledgers"] and b)
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


#: every sample under events/, by the function it is for (each function has at least one)
SAMPLES: dict[str, list[str]] = {
    "webhook": [
        "webhooks/stripe/payment_intent.amount_capturable_updated.json",
        "webhooks/sbps/result_authorized.form",
        "webhooks/payjp/charge.succeeded.json",
    ],
    "processor": ["queue/processor_sqs_event.json"],
    "admin": ["admin/put_reservation.json", "admin/get_payment.json", "admin/uncaptured.json"],
    "console": ["console/login_page.json"],
    "capture_deadline": [
        "capture_deadline/check.json",
        "capture_deadline/remind.json",
        "capture_deadline/expire.json",
        "capture_deadline/escalate.json",
    ],
    "janitor": ["janitor/schedule_event.json"],
    "janitor_worker": ["janitor/worker_sqs_event.json"],
    "changes": ["changes/stream_event.json"],
    "reconcile": ["reconcile/schedule_event.json", "reconcile/one_store.json"],
    "feed_sync": ["feeds/schedule_event.json"],
    "repayment_validate": ["repayment/steps/validate.json"],
    "repayment_eligibility": ["repayment/steps/eligibility.json"],
    "repayment_await_decision": ["repayment/steps/await_decision.json"],
    "repayment_charge": ["repayment/steps/charge.json"],
    "repayment_finish": ["repayment/steps/finish.json"],
    "support_case": ["support/case_check.json", "support/case_fire.json"],
    "support_report": ["support/monthly_report.json"],
}


def test_every_function_has_samples_and_each_file_is_listed() -> None:
    assert set(SAMPLES) == set(resources.FUNCTIONS)
    lambda_events = {
        str(p.relative_to(EVENTS))
        for p in EVENTS.rglob("*")
        if p.suffix in (".json", ".form") and p.parent.name not in ("stripe", "sbps", "payjp")
    }
    listed = {s for samples in SAMPLES.values() for s in samples}
    # request bodies and re-payment evidence are inputs of the admin API and the CLI, not Lambda events
    not_events = {"feeds/sync_request.json", "repayment/evidence.json", "repayment/evidence_pdf.json"}
    assert lambda_events - not_events <= listed


def _invoke(run: Any, function: str, sample: str, *values: str) -> Any:
    sets = [arg for value in values for arg in ("--set", value)]
    result = as_json(run("invoke", function, "--event", str(EVENTS / sample), *sets, "--json"))
    assert result["error"] is None, (function, sample, result)
    return result["result"]


def test_invoke_every_sample(run: Any, sandbox: SandboxProcess, charge: Any) -> None:
    for sample in SAMPLES["webhook"]:
        # PAY.JP events are applied from a re-fetch of the charge: the sample names an existing one
        assert _invoke(run, "webhook", sample, f"charge={charge.id}")["statusCode"] == 200
    # the Stripe sample opens an authorization whose deadline is ahead of the sandbox clock
    payment = eventually(lambda: get_payment(sandbox, "stripe", "pi_3QzAbC2eZvKYlo2C0xyz9876"))
    assert payment["status"] in ("authorized", "captured", "canceled", "partially_refunded", "refunded",
                                 "disputed", "charged_back")  # fmt: skip
    assert _invoke(run, "processor", SAMPLES["processor"][0]) == {"batchItemFailures": []}
    for sample in SAMPLES["admin"]:
        assert _invoke(run, "admin", sample)["statusCode"] == 200, sample
    for sample in SAMPLES["capture_deadline"]:
        _invoke(run, "capture_deadline", sample)
    assert _invoke(run, "janitor", SAMPLES["janitor"][0])["finished"] is True
    assert _invoke(run, "janitor_worker", SAMPLES["janitor_worker"][0]) == {"batchItemFailures": []}
    for sample in SAMPLES["reconcile"]:
        assert _invoke(run, "reconcile", sample)["unresolved"] == [], sample
    _invoke(run, "feed_sync", SAMPLES["feed_sync"][0])


def test_readme_repayment_walkthrough_and_every_step_sample(
    run: Any, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """The README's re-payment example as written, twice (a new request id each time), then each step."""
    _invoke(run, "admin", "admin/put_reservation.json")
    payjp.api_base = sandbox.outputs["PayjpApiBaseUrl"]
    payjp.api_key = sandbox.outputs["PayjpSecretKey"]
    customer = payjp.Customer.create(card="tok_visa", email="hanako.yamada@example.jp")
    original = payjp.Charge.create(
        amount=12000, currency="jpy", customer=customer.id, capture=False,
        metadata={"store_id": "store_042", "reservation_id": "rsv_20250301_0007",
                  "visit_date": "2025-03-05", "accepted_at": "2025-03-01T09:00:00+09:00"},
    )  # fmt: skip
    eventually(
        lambda: (p := get_payment(sandbox, "payjp", original.id)) and p["status"] == "expired_refunded",
        timeout=60,
    )
    # the automatic refund left the reservation not established (予約不成立)
    reservation = as_json(run("reservations", "show", "rsv_20250301_0007", "--json"))
    assert reservation["established"] is False
    assert "established  no" in run("reservations", "show", "rsv_20250301_0007").output
    evidence = str(EVENTS / "repayment" / "evidence.json")
    consent = str(EVENTS / "repayment" / "consent.eml")
    started = [
        as_json(run("repayment", "start", "--evidence", evidence, "--document", consent,
                    "--set", f"original={original.id}", "--json"))
        for _ in range(2)
    ]  # fmt: skip
    first, second = (s["request_id"] for s in started)
    assert first != second and first.startswith("rq_")
    missing = run("repayment", "start", "--evidence", evidence, "--document", consent, code=2).output
    assert "original" in missing and "--set" in missing

    def status(request_id: str) -> str:
        return str(as_json(run("repayment", "show", request_id, "--json"))["status"])

    eventually(lambda: status(first) == "awaiting_decision" and status(second) == "awaiting_decision")
    run("repayment", "approve", first, "--reason", "consent by e-mail")
    eventually(lambda: status(first) == "charged")
    new_id = as_json(run("repayment", "show", first, "--json"))["new_payment"]["provider_payment_id"]

    new_view = run("payments", "show", "payjp", new_id).output
    assert f"re-payment of     payjp/{original.id} (request {first})" in new_view
    original_view = run("payments", "show", "payjp", original.id).output
    assert f"re-paid by        payjp/{new_id} (request {first})" in original_view
    assert "automatic refund notice" in original_view

    # each re-payment step function with its sample, on the finished request: re-running is harmless
    steps = ("validate", "eligibility", "charge")
    for step in steps:
        _invoke(run, f"repayment_{step}", f"repayment/steps/{step}.json", f"request={first}")
    _invoke(run, "repayment_finish", "repayment/steps/finish.json", f"request={first}", "outcome=charged")
    assert status(first) == "charged"
    assert as_json(run("repayment", "show", first, "--json"))["new_payment"]["provider_payment_id"] == new_id
    # await_decision replaces the stored task token: only on a request nobody will decide
    _invoke(run, "repayment_await_decision", "repayment/steps/await_decision.json",
            f"request={second}", "task_token=sample-token")  # fmt: skip
    assert status(second) == "awaiting_decision"


def test_errors_say_what_to_do(run: Any, tmp_path: Path) -> None:
    missing = run("payments", "show", "payjp", "ch_missing", code=1).output
    assert "404" in missing or "no payment" in missing
    result = CliRunner().invoke(
        cli, ["payments", "show", "payjp", "x", "--outputs", str(tmp_path / "none.json")]
    )
    assert result.exit_code == 1
    assert "make local" in result.output


def test_payment_table_reads_in_tokyo_time_without_none(run: Any, charge: Any) -> None:
    table = run("payments", "show", "payjp", charge.id).output
    assert "— → authorized" in table and "None" not in table and "->" not in table
    assert "JST (business bound)" in table or "JST (authorization bound)" in table
    assert "notices sent: none" in table
    shown = as_json(run("payments", "show", "payjp", charge.id, "--json"))
    assert shown["capture_deadline"].startswith("20") and "T" in shown["capture_deadline"]  # ISO in JSON
    assert shown["notices"] == [] and shown["repayment_of"] is None and shown["repaid_by"] == []


def test_refund_list_show_and_debit_memo_after_success(
    run: Any, sandbox: SandboxProcess, charge: Any
) -> None:
    run("payments", "capture", "payjp", charge.id, "--json")
    refund = as_json(
        run("payments", "refund", "payjp", charge.id, "--amount", "2000", "--reason", "overcharge", "--json")
    )
    assert refund["status"] == "succeeded"
    listed = run("refunds", "list", "payjp", charge.id).output
    assert (
        refund["refund_id"] in listed and f"payjp/{charge.id}" in listed and "remaining refundable" in listed
    )
    assert as_json(run("refunds", "list", "payjp", charge.id, "--json"))["remaining_refundable"] == 8000
    shown = run("refunds", "show", "payjp", charge.id, refund["refund_id"]).output
    assert f"refunds payment  payjp/{charge.id}" in shown and "JST" in shown
    # after it succeeded the refund cannot be canceled or reversed: a debit memo claims it back
    refused = run("refunds", "cancel", "payjp", charge.id, refund["refund_id"], code=1).output
    assert "succeeded" in refused
    run("refunds", "reverse", "payjp", charge.id, refund["refund_id"], code=1)
    memo = as_json(
        run(
            "refunds",
            "debit-memo",
            "payjp",
            charge.id,
            refund["refund_id"],
            "--note",
            "charged twice",
            "--json",
        )
    )
    assert memo["refund_id"] == refund["refund_id"] and memo["amount"] == 2000
    table = run("refunds", "debit-memo", "payjp", charge.id, refund["refund_id"], "--amount", "1").output
    assert "claims back refund" in table or "debit memo" in table


def _sbps_forms(tmp_path: Path, order: str) -> dict[str, Path]:
    """The SBPS samples for a payment of its own (order and tracking id), where invoke finds the provider."""
    folder = tmp_path / "sbps"
    folder.mkdir(exist_ok=True)
    forms = {}
    for name in ("result_authorized", "result_captured"):
        text = (EVENTS / "webhooks" / "sbps" / f"{name}.form").read_text(encoding="utf-8")
        text = text.replace("sbps_ord_20261201_0001", order).replace("1234567890123456", order[-16:])
        forms[name] = folder / f"{name}.form"
        forms[name].write_text(text, encoding="utf-8")
    return forms


def test_refund_amend_and_cancel_before_submission(run: Any, sandbox: SandboxProcess, tmp_path: Path) -> None:
    order = f"sbps_cli_{secrets.token_hex(8)}"
    for form in _sbps_forms(tmp_path, order).values():
        assert (
            as_json(run("invoke", "webhook", "--event", str(form), "--json"))["result"]["statusCode"] == 200
        )
    eventually(lambda: (p := get_payment(sandbox, "sbps", order)) and p["status"] == "captured")
    # SBPS answers 503 twice: a partial refund that may have reached it is not re-sent, so the
    # refund stays requested, and a requested refund can still be corrected
    faults = f"{sandbox.outputs['SbpsApiBaseUrl']}/_sandbox/faults"
    spec = {"operation": "refund", "mode": "server_error", "count": 2}
    assert urllib3.request("POST", faults, json=spec).status == 200
    failed = run("payments", "refund", "sbps", order, "--amount", "3000", "--reason", "overcharge", code=1)
    assert "provider_unavailable" in failed.output or "did not answer" in failed.output
    (refund,) = as_json(run("refunds", "list", "sbps", order, "--json"))["refunds"]
    assert refund["status"] == "requested"
    amended = run("refunds", "amend", "sbps", order, refund["refund_id"], "--amount", "2500", code=1)
    assert "did not answer" in amended.output or "provider_unavailable" in amended.output
    listed = as_json(run("refunds", "list", "sbps", order, "--json"))["refunds"]
    (replacement,) = [r for r in listed if r.get("replaces") == refund["refund_id"]]
    assert replacement["amount"] == 2500 and replacement["status"] == "requested"
    table = run("refunds", "list", "sbps", order).output
    assert f"replaced by {replacement['refund_id']}" in table and f"replaces {refund['refund_id']}" in table
    canceled = run("refunds", "cancel", "sbps", order, replacement["refund_id"]).output
    assert "canceled" in canceled and f"sbps/{order}" in canceled
    assert as_json(run("refunds", "list", "sbps", order, "--json"))["remaining_refundable"] == 12000


def test_settle_nets_pending_sales_and_refuses_a_bank_transfer(run: Any) -> None:
    store = f"cli_settle_{secrets.token_hex(4)}"
    settled = as_json(run("stores", "settle", store, "--json"))
    assert settled["store_id"] == store and settled["outcome"] in ("paid", "carried_forward")
    assert "outcome" in run("stores", "settle", store).output
    run("stores", "adjust", store, "--amount", "-5000", "--reason", "tax_rate_change", "--json")
    negative = as_json(run("stores", "settle", store, "--json"))
    assert negative["outcome"] == "carried_forward" and negative["payout"] is None
    refused = run("stores", "settle", store, "--method", "bank_transfer", code=1).output
    assert "5000" in refused


def test_reservation_put_and_show(run: Any) -> None:
    reservation_id = f"rsv_cli_{secrets.token_hex(4)}"
    common = ["--store", STORE, "--holder-name", "山田 太郎", "--email", "taro@example.jp",
              "--amount", "8000", "--tax-treatment", "exclusive"]  # fmt: skip
    no_zone = run("reservations", "put", reservation_id, *common, "--reserved-at", "2026-12-24T18:00", code=2)
    assert "zone" in no_zone.output
    put = as_json(
        run(
            "reservations",
            "put",
            reservation_id,
            *common,
            "--reserved-at",
            "2026-12-24T18:00+09:00",
            "--json",
        )
    )
    assert put["reservation_id"] == reservation_id and put["established"] is True
    shown = run("reservations", "show", reservation_id).output
    assert "2026-12-24 18:00 JST" in shown and "8000 JPY (exclusive)" in shown
    run("reservations", "show", "rsv_cli_missing", code=1)


def test_feed_employee_select_and_runs(run: Any, sandbox: SandboxProcess) -> None:
    tenant = f"cli_sel_{secrets.token_hex(4)}"
    run("feeds", "tenant", tenant, "--corporate-number", "5835678256246", "--json")
    run("feeds", "import-employees", tenant, str(EVENTS / "feeds" / "employees.csv"), "--json")
    put = as_json(
        run("feeds", "employee", "put", tenant, "E900", "--name-kana", "テスト タロウ",
            "--card-linkage-code", "LNK-E900", "--json")
    )  # fmt: skip
    assert put["employee_code"] == "E900" and put["settlement"] == "corporate"
    assert "LNK-E900" in run("feeds", "employee", "show", tenant, "E900").output
    run("feeds", "employee", "show", tenant, "E999", code=1)
    s3 = boto3.client(
        "s3", endpoint_url=sandbox.outputs["AwsEndpointUrl"], region_name="ap-northeast-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    s3.put_object(
        Bucket=sandbox.outputs["FeedBucketName"],
        Key=f"feeds/{tenant}/generic/generic_2026-05-07.csv",
        Body=(EVENTS / "feeds" / "generic_2026-05-07.csv").read_bytes(),
    )
    run("feeds", "sync", "--date", "2026-05-08", "--json")
    lines = as_json(run("feeds", "lines", tenant, "E001", "--json"))
    assert lines, "E001 has a selectable line in the sample"
    used = as_json(run("feeds", "select", tenant, "E001", lines[0]["line_id"], "--report", "rep-1", "--json"))
    assert used["report_id"] == "rep-1" and used["selectable"] is False
    runs = as_json(run("feeds", "runs", "--date", "2026-05-08", "--json"))
    assert runs and all(r["business_date"] == "2026-05-08" for r in runs)
    assert "2026-05-08" in run("feeds", "runs", "--date", "2026-05-08").output


def test_support_case_commands_and_samples(run: Any) -> None:
    """A case from the CLI, its workflow steps and the monthly report's schedule sample, on the sandbox."""
    opened = as_json(run("cases", "open", "--category", "service", "--summary", "slow answers",
                         "--store", "store_042", "--json"))  # fmt: skip
    case_id = opened["case_id"]
    assert _invoke(run, "support_case", SAMPLES["support_case"][0], f"case={case_id}")["waiting"] is True
    # a reminder before its time is moot: nothing is recorded
    assert _invoke(run, "support_case", SAMPLES["support_case"][1], f"case={case_id}")["fired"] is False
    written = _invoke(run, "support_report", SAMPLES["support_report"][0])
    assert written["status"] == "written" and written["month"] == "2026-12"
    assert "HTTP 409" in run("cases", "resolve", case_id, "--resolution", "x", code=1).output
    run("cases", "ack", case_id)
    assert case_id in run("cases", "list").output
