"""End to end through ``cardops local``: charges made with the official payjp library expire and are
refunded by the capture-deadline workflow when the sandbox clock passes their deadline, or are
captured in time. (A visit date long past, with PAY.JP failing the release: ``test_payjp_e2e.py``.)

Runs its own sandbox (this module moves the sandbox clock forward, which must not leak into the
other end-to-end tests sharing the session sandbox).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import payjp
import pytest
from click.testing import CliRunner

from cardops.cli.main import cli
from tests.conftest import sandbox_of_its_own
from tests.helpers import booking_metadata, eventually, payment_with_status, sandbox_now
from tests.helpers import sandbox_api as api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("deadline-e2e")]  # one worker: one sandbox of its own


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox of its own: these tests move its clock, which would disturb the shared one."""
    with sandbox_of_its_own(tmp_path_factory, "deadline-sandbox") as values:
        payjp.api_base = values["PayjpApiBaseUrl"]
        payjp.api_key = values["PayjpSecretKey"]
        yield values


def charge(
    outputs: dict[str, Any], reservation_id: str, *, visit_in_days: int, accepted_days_ago: int
) -> Any:
    return payjp.Charge.create(
        amount=8800,
        currency="jpy",
        card="tok_visa",
        capture=False,
        expiry_days=60,
        metadata=booking_metadata(
            outputs,
            "store_deadline_e2e",
            reservation_id,
            visit_in_days=visit_in_days,
            accepted_days_ago=accepted_days_ago,
        ),
    )


def test_captured_in_time_stays_captured_after_the_deadline(outputs: dict[str, Any]) -> None:
    created = charge(outputs, "rsv_deadline_ok", visit_in_days=2, accepted_days_ago=0)
    eventually(lambda: payment_with_status(outputs, "payjp", created.id, "authorized"))
    runner = CliRunner()
    listed = runner.invoke(
        cli, ["stores", "uncaptured", "store_deadline_e2e", "--outputs", outputs["_outputs_file"], "--json"]
    )
    assert listed.exit_code == 0, listed.output
    assert created.id in [p["provider_payment_id"] for p in json.loads(listed.output)["payments"]]

    captured = runner.invoke(
        cli,
        [
            "payments",
            "capture",
            "payjp",
            created.id,
            "--amount",
            "8000",
            "--outputs",
            outputs["_outputs_file"],
        ],
    )
    assert captured.exit_code == 0, captured.output
    assert "captured 8000" in captured.output
    advanced = runner.invoke(cli, ["sandbox", "advance", "12d", "--outputs", outputs["_outputs_file"]])
    assert advanced.exit_code == 0, advanced.output
    time.sleep(1.0)  # the workflow's wait ends on the moved clock and the check sees the capture

    payment = eventually(lambda: payment_with_status(outputs, "payjp", created.id, "captured"))
    assert payment["captured_amount"] == 8000
    refreshed = payjp.Charge.retrieve(created.id)
    assert refreshed.captured is True and refreshed.refunded is False


def test_sandbox_advance_expires_an_uncaptured_authorization(outputs: dict[str, Any]) -> None:
    created = charge(outputs, "rsv_deadline_wait", visit_in_days=1, accepted_days_ago=0)
    payment = eventually(lambda: payment_with_status(outputs, "payjp", created.id, "authorized"))
    deadline = datetime.fromisoformat(payment["capture_deadline"])
    assert deadline > sandbox_now(outputs)
    result = CliRunner().invoke(cli, ["sandbox", "advance", "9d", "--outputs", outputs["_outputs_file"]])
    assert result.exit_code == 0, result.output

    eventually(lambda: payment_with_status(outputs, "payjp", created.id, "expired_refunded"))
    assert payjp.Charge.retrieve(created.id).refunded is True
    code, body = api(outputs, "POST", f"/admin/payments/payjp/{created.id}/capture", {})
    assert code == 409 and body["error"]["code"] == "payment_not_capturable"
    assert datetime.now(UTC) < deadline  # no real week went by
