"""Errors a user sees through the CLI against ``cardops local`` (issue 17 item 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cardops.cli.main import cli
from tests.conftest import SandboxProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def outputs(sandbox: SandboxProcess, tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(sandbox.outputs), encoding="utf-8")
    return path


def run(outputs: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--outputs", str(outputs)])


def test_invalid_corporate_number_is_refused(outputs: Path) -> None:
    refused = run(outputs, "feeds", "tenant", "t_cn_bad", "--corporate-number", "5835678256247")
    assert refused.exit_code == 1
    assert "HTTP 422" in refused.output and "fails its check digit" in refused.output
    accepted = run(outputs, "feeds", "tenant", "t_cn_ok", "--corporate-number", "5835678256246")
    assert accepted.exit_code == 0 and json.loads(accepted.output)["corporate_number_status"] == "valid"


def test_missing_payment_is_named(outputs: Path) -> None:
    missing = run(outputs, "payments", "show", "payjp", "ch_x")
    assert missing.exit_code == 1 and "HTTP 404: payment payjp/ch_x not found" in missing.output


def test_validation_errors_show_the_field(outputs: Path) -> None:
    bad = run(outputs, "feeds", "link", "t_cn_ok", "line_1", "--report", "bad id!", "--employee", "E001")
    assert bad.exit_code == 1
    assert "HTTP 422: request validation failed" in bad.output and "report_id: " in bad.output


def test_the_admin_http_api_refuses_what_the_rest_api_refuses_and_unsigned_calls(
    sandbox: SandboxProcess,
) -> None:
    """``AdminApiUrl`` (HTTP API, payload format 1.0, IAM) and ``ApiUrl``'s admin routes answer the
    same malformed and hostile requests with the same status and error body: neither API validates
    bodies (no models; the REST validator checks no /admin parameter), the function does. The HTTP
    door refuses unsigned and wrongly signed requests with 403 before the function runs, and a
    signed change records its signer as the actor."""
    import urllib3

    from cardops.sandbox import sigv4
    from tests.helpers import sigv4_headers

    http = urllib3.PoolManager()
    doors = {"rest": sandbox.api, "http": sandbox.outputs["AdminApiUrl"].rstrip("/")}
    assert doors["http"] != doors["rest"]

    def call(
        door: str, method: str, path: str, body: bytes = b"", secret: str | None = sigv4.OPERATOR_SECRET_KEY
    ) -> Any:
        url = doors[door] + path
        headers = {"Content-Type": "application/json"}
        if door == "http" and secret is not None:
            headers = sigv4_headers(method, url, body, headers, secret_key=secret)
        response = http.request(method, url, body=body or None, headers=headers)
        return response.status, json.loads(response.data or b"null")

    refunds = "/admin/payments/payjp/ch_doors_unknown/refunds"
    hostile = [
        ("POST", refunds, b"{not json"),
        ("POST", refunds, b'{"amount": "lots", "reason": 7, "idempotency_key": ["k"]}'),
        ("POST", refunds, b"{}"),
        ("POST", refunds, b"[" * 50_000),
        ("POST", refunds, b'{"amount": 1e400, "reason": "customer_request", "idempotency_key": "k"}'),
        (
            "POST",
            refunds,
            b'{"amount": 100, "reason": "customer_request", "idempotency_key": "' + b"k" * 2_000_000 + b'"}',
        ),
        ("PUT", "/admin/tenants/t_doors", b'{"corporate_number": 5835678256246}'),
        ("PUT", "/admin/tenants/t_doors", b"\xff\xfe not utf-8"),
        ("GET", "/admin/no-such-route", b""),
        ("DELETE", "/admin/tenants/t_doors", b""),
        ("GET", "/admin/payments/payjp/ch_doors_unknown", b""),
    ]
    for method, path, body in hostile:
        answers = {door: call(door, method, path, body) for door in doors}
        assert answers["http"] == answers["rest"], (method, path, answers)
        assert 400 <= answers["http"][0] < 500 and "error" in answers["http"][1], (method, path, answers)

    path = "/admin/payments/payjp/ch_doors_unknown"
    assert call("http", "GET", path, secret=None) == (403, {"message": sigv4.MISSING})
    assert call("http", "GET", path, secret="not-the-key") == (403, {"message": sigv4.MISMATCH})
    url = doors["http"] + "/admin/stores/store_doors/adjustments"
    change = json.dumps(
        {"channel": "standard", "currency": "JPY", "adjustment_id": "adj-doors", "amount": -100,
         "reason": "tax_rate_change", "memo": "through the HTTP door"}
    ).encode()  # fmt: skip
    signed = sigv4_headers("POST", url, change, {"Content-Type": "application/json"})
    tampered = http.request("POST", url, body=change.replace(b"-100", b"-900"), headers=signed)
    assert tampered.status == 403
    accepted = http.request("POST", url, body=change, headers=signed)
    assert accepted.status == 201, accepted.data
    assert json.loads(accepted.data)["recorded_by"] == "arn:aws:iam::000000000000:user/sandbox-operator"
