"""End to end through `cardops local`: an auto-refunded reservation is charged again with consent.

The official payjp library creates the customer and the original (uncaptured) charge in the PAY.JP
emulator; the charge is released (refunded) and marked expired as the capture-deadline workflow
would; the support desk starts the request with the sample .eml from events/, approves it with the
CLI, and a new captured charge appears in the emulator, linked to the original.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import payjp
import pytest
from click.testing import CliRunner

from cardops.cli.main import cli
from tests.conftest import SandboxProcess
from tests.helpers import eventually, sandbox_api

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "repayment"


def cardops(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def booked_reservation(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The sample evidence (``events/repayment``) for a reservation of the test's own, stored as the
    booking system stores it: the evidence the support desk files for it."""
    evidence: dict[str, Any] = json.loads((SAMPLES / "evidence.json").read_text(encoding="utf-8"))["evidence"]
    evidence["reservation_id"] = f"rsv_e2e_{secrets.token_hex(4)}"
    code, _ = sandbox_api(
        outputs,
        "PUT",
        f"/admin/reservations/{evidence['reservation_id']}",
        {
            "store_id": evidence["store_id"],
            "holder_name": "山田 花子",
            "email": evidence["email"],
            "tel": evidence["tel"],
            "reserved_at": evidence["reserved_at"],
            "amount": evidence["amount"],
            "tax_treatment": "inclusive",
        },
    )
    assert code == 200
    return evidence


def outputs_option(outputs: Mapping[str, Any], tmp_path: Path) -> tuple[str, str]:
    """``--outputs FILE`` for the CLI: the sandbox's outputs written to ``tmp_path``."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(dict(outputs)), encoding="utf-8")
    return ("--outputs", str(path))


def start_repayment(
    target: tuple[str, str], tmp_path: Path, original: Mapping[str, str], evidence: Mapping[str, Any]
) -> str:
    """The request as the support desk files it (the sample .eml) started with the CLI; its id, once
    the workflow waits for the desk's decision."""
    request_id = f"rq_e2e_{secrets.token_hex(4)}"
    request = {"request_id": request_id, "original_payment": dict(original), "evidence": dict(evidence)}
    evidence_file = tmp_path / f"{request_id}.json"
    evidence_file.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    started = json.loads(
        cardops(
            "repayment", "start", "--evidence", str(evidence_file), "--document",
            str(SAMPLES / "consent.eml"), *target, "--json",
        )
    )  # fmt: skip
    assert started["status"] in ("started", "awaiting_decision")
    eventually(lambda: shown(target, request_id)["status"] == "awaiting_decision")
    return request_id


def shown(target: tuple[str, str], request_id: str) -> Any:
    return json.loads(cardops("repayment", "show", request_id, *target, "--json"))


def approve(target: tuple[str, str], request_id: str) -> Any:
    """The desk approves; the request as shown once the workflow charged."""
    cardops("repayment", "approve", request_id, "--reason", "consent by e-mail", *target)
    return eventually(lambda: (found := shown(target, request_id))["status"] == "charged" and found)


def test_expired_refunded_reservation_is_charged_again_after_approval(
    sandbox: SandboxProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payjp.api_base = sandbox.outputs["PayjpApiBaseUrl"]
    payjp.api_key = sandbox.outputs["PayjpSecretKey"]
    evidence = booked_reservation(sandbox.outputs)
    reservation_id = evidence["reservation_id"]

    customer = payjp.Customer.create(card="tok_visa", email=evidence["email"])
    original = payjp.Charge.create(
        amount=12000,
        currency="jpy",
        customer=customer.id,
        capture=False,
        metadata={
            "store_id": evidence["store_id"],
            "reservation_id": reservation_id,
            "visit_date": "2025-03-05",
            "accepted_at": "2025-03-01T10:00:00+09:00",
        },
    )
    path = f"/admin/payments/payjp/{original.id}"
    eventually(lambda: sandbox_api(sandbox.outputs, "GET", path)[0] == 200)
    # the visit date is long past: the capture-deadline workflow cancels it at once (予約不成立)
    eventually(
        lambda: sandbox_api(sandbox.outputs, "GET", path)[1]["status"] == "expired_refunded", timeout=60
    )
    assert payjp.Charge.retrieve(original.id).refunded

    target = outputs_option(sandbox.outputs, tmp_path)
    original_ref = {"provider": "payjp", "provider_payment_id": original.id}
    request_id = start_repayment(target, tmp_path, original_ref, evidence)
    new_id = approve(target, request_id)["new_payment"]["provider_payment_id"]
    charge = payjp.Charge.retrieve(new_id)
    assert charge.captured is True and charge.amount == 12000
    assert charge.customer == customer.id
    assert charge.metadata["repayment_of"] == original.id
    assert charge.metadata["reservation_id"] == reservation_id
    payment = eventually(lambda: sandbox_api(sandbox.outputs, "GET", f"/admin/payments/payjp/{new_id}")[1])
    assert payment["status"] == "captured" and payment["reservation_id"] == reservation_id

    text = cardops("repayment", "show", request_id, *target)
    assert "Charge the saved card once" in text and "✓" in text
    assert request_id in cardops("repayment", "list", *target)
