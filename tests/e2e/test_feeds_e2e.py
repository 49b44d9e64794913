"""End to end through `cardops local`: files dropped in the sandbox's feed bucket, the admin API
over HTTP and the `cardops` CLI (sync with progress, errors, fix, assign, link, exclude, diagnose)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3

from tests.conftest import ROOT, SandboxProcess

pytestmark = pytest.mark.e2e
HTTP = urllib3.PoolManager()
EVENTS = ROOT / "events" / "feeds"


def api(sandbox: SandboxProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    response = HTTP.request(
        method, f"{sandbox.api}{path}", body=data, headers={"Content-Type": "application/json"}
    )
    return response.status, json.loads(response.data or b"null")


def cli(outputs: Path, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "cardops.cli.main", *args, "--outputs", str(outputs), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


@pytest.fixture
def outputs_file(sandbox: SandboxProcess, tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(sandbox.outputs), encoding="utf-8")
    return path


def test_feed_sync_errors_fix_and_diagnose_end_to_end(sandbox: SandboxProcess, outputs_file: Path) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=sandbox.outputs["AwsEndpointUrl"],
        region_name="ap-northeast-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )
    bucket = sandbox.outputs["FeedBucketName"]
    for company, name in (
        ("saison", "saison_cp932_halfwidth.csv"),
        ("generic", "generic_utf8_bom.csv"),
        ("generic", "generic_broken_row.csv"),
        ("generic", "generic_2026-05-07.csv"),
        ("generic", "generic_2026-05-08.csv"),
    ):
        s3.put_object(
            Bucket=bucket, Key=f"feeds/{tenant}/{company}/{name}", Body=(EVENTS / name).read_bytes()
        )
    assert (
        cli(outputs_file, "feeds", "tenant", tenant, "--corporate-number", "5835678256246")[
            "corporate_number_status"
        ]
        == "valid"
    )
    imported = cli(outputs_file, "feeds", "import-employees", tenant, str(EVENTS / "employees.csv"))
    assert imported["imported"] == 7

    status, holiday = api(sandbox, "POST", "/admin/feeds/sync", {"business_date": "2026-05-05"})
    assert status == 200 and holiday["status"] == "skipped_holiday"
    status, weekend = api(sandbox, "POST", "/admin/feeds/sync", {"business_date": "2026-05-09"})
    assert weekend["status"] == "skipped_weekend"

    summary = cli(outputs_file, "feeds", "sync", "--date", "2026-05-07", "--step", "1")
    assert summary["status"] == "completed"
    mine = next(t for t in summary["tenants"] if t["tenant_id"] == tenant)
    assert mine["malformed"] == 3 and mine["duplicates"] >= 1 and mine["errors"] >= 5
    assert {p["line"] for p in summary["problems"] if p["file"].endswith("generic_broken_row.csv")}

    errors = cli(outputs_file, "feeds", "errors", tenant)
    reasons = {e["reason"] for e in errors}
    assert {
        "unknown_linkage_code",
        "employee_code_mismatch",
        "name_small_kana",
        "name_romaji",
        "name_mismatch",
    } <= (reasons)
    romaji = next(e for e in errors if e["reason"] == "name_romaji")
    diagnosis = cli(outputs_file, "diagnose", tenant, romaji["employee_code"], "--date", romaji["usage_date"])
    assert diagnosis["cause"] == "unmatched" and diagnosis["reason"] == "name_romaji"
    fixed = cli(outputs_file, "feeds", "fix", tenant, romaji["line_id"])
    assert romaji["line_id"] in fixed["rematch"]["matched"]
    after = cli(outputs_file, "diagnose", tenant, romaji["employee_code"], "--date", romaji["usage_date"])
    assert after["cause"] == "selectable"

    unknown = next(e for e in errors if e["reason"] == "unknown_linkage_code")
    assigned = cli(outputs_file, "feeds", "assign", tenant, unknown["line_id"], "E006")
    assert assigned["employee_code"] == "E006"
    linked = cli(
        outputs_file, "feeds", "link", tenant, assigned["line_id"], "--report", "R-77", "--employee", "E006"
    )
    assert linked["report_id"] == "R-77"

    personal = [
        line
        for code in ("E005", "E007")
        for line in cli(outputs_file, "feeds", "lines", tenant, code)
        if line["settlement"] == "personal"
    ]
    assert personal
    excluded = cli(
        outputs_file, "feeds", "exclude", tenant, personal[0]["employee_code"], personal[0]["line_id"]
    )
    assert excluded["excluded"] is True

    status, body = api(sandbox, "GET", f"/admin/tenants/{tenant}/card-errors")
    assert status == 200 and all({"reason", "hint", "proposed_fix"} <= set(e) for e in body)


def run_sync(outputs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cardops.cli.main", "feeds", "sync", *args, "--outputs", str(outputs)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def deliver_big_file(sandbox: SandboxProcess, outputs: Path, lines: int) -> str:
    from tests.integration.feeds.test_feed_resume_hostile import big_file

    tenant = f"big-{uuid.uuid4().hex[:8]}"
    cli(outputs, "feeds", "tenant", tenant, "--corporate-number", "5835678256246")
    s3 = boto3.client(
        "s3", endpoint_url=sandbox.outputs["AwsEndpointUrl"], region_name="ap-northeast-1",
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
    )  # fmt: skip
    body = big_file(lines).replace(b"B-", f"{tenant}-".encode())
    s3.put_object(Bucket=sandbox.outputs["FeedBucketName"], Key=f"feeds/{tenant}/generic/big.csv", Body=body)
    return tenant


def tenant_result(summary: dict[str, Any], tenant: str) -> dict[str, Any]:
    return next(t for t in summary["tenants"] if t["tenant_id"] == tenant)


#: lines the admin API's on-demand run (one conditional PutItem a line) stores in several one-second
#: steps on the sandbox: 20-45 ms a line on a 2-core machine, so 500 take 10-22 s (five times the two
#: steps the test needs); the 100k-line figure is the scale bench's (tests/benchmarks/bench_feed_sync.py)
STEPPED_LINES = 500


def test_a_long_sync_goes_in_steps_and_shows_progress(sandbox: SandboxProcess, outputs_file: Path) -> None:
    tenant = deliver_big_file(sandbox, outputs_file, STEPPED_LINES)
    done = run_sync(outputs_file, "--date", "2026-06-01", "--step", "1")
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("feed sync 2026-06-01")]
    assert len([line for line in progress if line.endswith("(in_progress)")]) >= 2, done.stderr
    assert progress[-1].endswith("(completed)") and "lines read" in progress[-1]
    assert "2026-06-01: completed" in done.stdout
    assert f"  {tenant}: read {STEPPED_LINES} " in done.stdout


def test_no_answer_in_time_says_how_to_resume(sandbox: SandboxProcess, outputs_file: Path) -> None:
    # far more than the 0.2 s the cut call waits for (20-45 ms a line on the sandbox)
    tenant = deliver_big_file(sandbox, outputs_file, 200)
    cut = run_sync(outputs_file, "--date", "2026-06-02", "--step", "3", "--timeout", "0.2")
    assert cut.returncode == 3, cut.stdout + cut.stderr
    assert "still running on the server; run the same command again to resume" in cut.stderr
    assert "Traceback" not in cut.stderr and "ReadTimeoutError" not in cut.stderr
    resumed = run_sync(outputs_file, "--date", "2026-06-02", "--step", "3", "--json")
    assert resumed.returncode == 0 and resumed.stderr == "", resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["status"] == "completed", summary
    # the server may have finished the cut call's step before the resume arrived (then that run read
    # the file and the resume found nothing new): either way one completed run read all 200 lines once
    status, runs = api(sandbox, "GET", "/admin/feeds/runs?business_date=2026-06-02")
    assert status == 200, runs
    reads = [
        t["lines_read"]
        for run in runs
        if run["status"] == "completed"
        for t in run["tenants"]
        if t["tenant_id"] == tenant
    ]
    assert sum(reads) == 200 and 200 in reads, runs
