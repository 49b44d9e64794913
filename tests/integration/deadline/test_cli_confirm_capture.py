"""``cardops payments capture`` against a deployed stack asks first: an abort leaves the payment
authorized in the store and the provider untouched; ``--yes`` captures (issue 15 item 6).

The "deployed" admin API is the real admin handler on the in-process stack."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cardops.cli import client as cli_client
from cardops.cli.client import AdminClient, ApiError
from cardops.cli.main import cli
from cardops.handlers import admin
from cardops.kernel import clock
from cardops.kernel.calendar import tokyo_date
from cardops.payments.domain.payments import PaymentStatus
from cardops.payments.store.payments import PaymentRepository
from tests.helpers import call
from tests.integration.deadline.conftest import RecordingProvider, authorize


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(outputs: Path | None, stack: str | None, profile: str | None, region: str | None) -> AdminClient:
        assert stack == "cardops-prod"
        return AdminClient({"ApiUrl": "https://api.invalid/prod/"}, sign=True, stack=stack)

    def request(self: AdminClient, method: str, path: str, body: Any = None, **_: Any) -> Any:
        status, answer = call(admin.handler, method, path, body if body is not None else b"")
        if status >= 300:
            raise ApiError(status, answer)
        return answer

    monkeypatch.setattr(cli_client, "load_outputs", load)
    monkeypatch.setattr(AdminClient, "request", request)


def _status(payment_id: str) -> PaymentStatus:
    payment = PaymentRepository().get("payjp", payment_id)
    assert payment is not None
    return payment.status


def test_an_aborted_capture_moves_nothing_and_yes_captures(
    workflow: Any, provider: RecordingProvider, deployed: None
) -> None:
    visit = tokyo_date(clock.now()) + timedelta(days=3)
    authorize(provider, "ch_ask", visit_date=visit, start_workflow=False)
    command = ["payments", "capture", "payjp", "ch_ask", "--stack", "cardops-prod"]

    aborted = CliRunner().invoke(cli, command, input="n\n")
    assert aborted.exit_code == 1 and "Continue?" in aborted.output
    assert provider.count("capture", "ch_ask") == 0
    assert _status("ch_ask") is PaymentStatus.AUTHORIZED

    done = CliRunner().invoke(cli, [*command, "--yes"])
    assert done.exit_code == 0, done.output
    assert "Continue?" not in done.output
    assert provider.count("capture", "ch_ask") == 1
    assert _status("ch_ask") is PaymentStatus.CAPTURED
