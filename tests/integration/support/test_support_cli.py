"""``cardops cases …`` end to end through the admin handler (in process, as the sandbox's operator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cardops.cli.client import AdminClient, ApiError
from cardops.cli.main import cli
from cardops.kernel import clock
from cardops.kernel.calendar import tokyo_date
from tests.integration.support.conftest import admin


@pytest.fixture
def outputs(support: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    def request(self: AdminClient, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        code, answer = admin(method, path, body)
        if code not in (200, 201, 202):
            raise ApiError(code, answer)
        return answer

    monkeypatch.setattr(AdminClient, "request", request)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"ApiUrl": "http://127.0.0.1:9/"}), encoding="utf-8")
    return path


def _run(outputs: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--outputs", str(outputs)])


def test_open_show_ack_resolve_and_report(outputs: Path, tmp_path: Path) -> None:
    args = ["cases", "open", "--category", "missing_refund", "--summary", "no refund", "--store", "store-1"]
    opened = _run(outputs, *args, "--json")
    assert opened.exit_code == 0, opened.output
    case_id = json.loads(opened.output)["case_id"]
    refused = _run(outputs, "cases", "resolve", case_id, "--resolution", "done")
    assert refused.exit_code == 1 and "not acknowledged" in refused.output
    assert _run(outputs, "cases", "ack", case_id).exit_code == 0
    assert _run(outputs, "cases", "resolve", case_id, "--resolution", "found the refund").exit_code == 0
    shown = _run(outputs, "cases", "show", case_id)
    assert shown.exit_code == 0 and "acknowledge" in shown.output and "resolve" in shown.output
    month = tokyo_date(clock.now()).strftime("%Y-%m")
    csv_path = tmp_path / "report.csv"
    report = _run(outputs, "cases", "report", "--month", month, "--csv", str(csv_path))
    assert report.exit_code == 0, report.output
    assert "1 opened" in report.output and "missing_refund" in report.output
    assert f"category,{month},missing_refund,1," in csv_path.read_text(encoding="utf-8")


def test_bad_month_and_unknown_category_are_one_line_errors(outputs: Path) -> None:
    bad = _run(outputs, "cases", "report", "--month", "2026-13")
    assert bad.exit_code == 1 and "HTTP 422" in bad.output and "YYYY-MM" in bad.output
    unknown = _run(outputs, "cases", "open", "--category", "lost_card", "--summary", "x", "--store", "s")
    assert unknown.exit_code == 2 and "lost_card" in unknown.output
