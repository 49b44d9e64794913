"""Processing failures are loud, end to end through ``cardops local`` (issue 17 item 4): ``invoke
webhook`` does not say "ok" for an event the processor cannot apply, ``--wait`` reports it parked
with its reason, ``events dlq`` lists it and ``events redrive`` moves it back."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS, ROOT, SandboxProcess
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


def cardops(outputs: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "cardops.cli.main", *args, "--outputs", str(outputs)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture
def outputs(sandbox: SandboxProcess, tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(sandbox.outputs), encoding="utf-8")
    return path


def unknown_charge_event(tmp_path: Path) -> tuple[Path, str]:
    event_id = f"evnt_e2e_{uuid.uuid4().hex[:10]}"
    folder = tmp_path / "webhooks" / "payjp"
    folder.mkdir(parents=True)
    path = folder / "unknown_charge.json"
    body = {"id": event_id, "object": "event", "type": "charge.succeeded",
            "data": {"id": f"ch_unknown_{uuid.uuid4().hex[:10]}", "object": "charge"}}  # fmt: skip
    path.write_text(json.dumps(body), encoding="utf-8")
    return path, event_id


def parked(outputs: Path, event_id: str) -> dict[str, Any] | None:
    listed = json.loads(cardops(outputs, "events", "dlq", "--json").stdout)
    return next((p for p in listed if p["event_id"] == event_id), None)


def test_a_failing_event_is_reported_parked_listed_and_redriven(outputs: Path, tmp_path: Path) -> None:
    sample, event_id = unknown_charge_event(tmp_path)
    accepted = cardops(outputs, "invoke", "webhook", "--event", str(sample))
    assert not accepted.stdout.split("\n")[0].endswith(": ok")
    assert "accepted" in accepted.stdout and "asynchronous" in accepted.stdout

    waited = cardops(outputs, "invoke", "webhook", "--event", str(sample), "--wait", "90", code=1)
    assert "parked" in waited.stdout + waited.stderr
    assert "No such charge" in waited.stdout + waited.stderr

    entry = eventually(lambda: parked(outputs, event_id), timeout=60)
    assert entry["provider"] == "payjp" and entry["attempts"] >= 5
    assert "No such charge" in entry["reason"] and entry["first_failed_at"] <= entry["last_failed_at"]
    table = cardops(outputs, "events", "dlq").stdout
    assert f"payjp/{event_id}" in table and "reason: provider refused" in table and "JST" in table

    moved = cardops(outputs, "events", "redrive", event_id).stdout
    assert f"moved payjp/{event_id} back" in moved
    assert parked(outputs, event_id) is None
    shown = eventually(
        lambda: (
            (s := json.loads(cardops(outputs, "events", "show", "payjp", event_id, "--json").stdout))
            and s["attempts"] > entry["attempts"]
            and s
        ),
        timeout=60,
    )
    assert shown["redriven_at"] and shown["reason"] == entry["reason"]
    missing = cardops(outputs, "events", "redrive", "evnt_not_parked", code=1)
    assert "evnt_not_parked is not in the dead-letter queue" in missing.stderr


def test_wait_reports_the_payment_change(outputs: Path) -> None:
    sample = EVENTS / "webhooks" / "sbps" / "result_authorized.form"
    done = cardops(outputs, "invoke", "webhook", "--event", str(sample), "--wait")
    assert "processed" in done.stdout and "outcome: " in done.stdout
    as_json = json.loads(
        cardops(outputs, "invoke", "webhook", "--event", str(sample), "--wait", "--json").stdout
    )
    assert as_json["processing"]["state"] == "processed" and as_json["event"]["provider"] == "sbps"
