"""Errors a user sees through the CLI against ``cardops local`` (issue 17 item 6)."""

from __future__ import annotations

import json
from pathlib import Path

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
