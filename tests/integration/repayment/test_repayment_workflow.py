"""The re-payment workflow with its real definition and handlers (moto executes the ASL)."""

from __future__ import annotations

import json
from typing import Any

from cardops.adapters.dynamodb import PaymentRepository
from cardops.sandbox.payjp_emulator import PayjpEmulator

from tests.integration.repayment.conftest import (
    admin,
    original_payment,
    start_body,
    wait_for_execution,
    wait_for_status,
)


def outcome_of(arn: str) -> dict[str, Any]:
    described = wait_for_execution(arn)
    assert described["status"] == "SUCCEEDED", described
    output: dict[str, Any] = json.loads(described["output"])
    return output


def test_approved_request_charges_once_captured_and_linked(env: Any, emulator: PayjpEmulator) -> None:
    charge_id = original_payment(emulator)
    code, started = admin("POST", "/admin/repayments", start_body(charge_id))
    assert code == 201, started
    wait_for_status("rq_test_0001", "awaiting_decision")

    code, decided = admin("POST", "/admin/repayments/rq_test_0001/decision", {"decision": "approve"})
    assert code == 200, decided
    output = outcome_of(started["execution_arn"])

    assert output["outcome"] == "charged"
    new_id = output["new_payment"]["provider_payment_id"]
    assert new_id != charge_id
    new_charge = emulator.charges[new_id]
    assert new_charge["captured"] is True and new_charge["amount"] == 12000
    assert new_charge["customer"] == emulator.charges[charge_id]["customer"]
    assert new_charge["metadata"]["repayment_of"] == charge_id
    assert new_charge["metadata"]["reservation_id"] == "rsv_20250301_0007"
    creates = [c for c in emulator.charges.values() if c["metadata"].get("repayment_request_id")]
    assert len(creates) == 1
    stored = PaymentRepository().get("payjp", new_id)
    assert stored is not None and stored.status.value == "captured"
    assert stored.metadata.reservation_id == "rsv_20250301_0007"

    code, shown = admin("GET", "/admin/repayments/rq_test_0001")
    assert code == 200
    assert shown["status"] == "charged"
    assert [e["step"] for e in shown["audit"]] == [
        "start", "validate", "eligibility", "await_decision", "decision", "charge", "outcome",
    ]  # fmt: skip
    names = [s["name"] for s in shown["execution"]["steps"]]
    assert names[:3] == ["ValidateEvidence", "EvidenceValid", "CheckEligibility"]
    assert "ChargeAgain" in names and names[-1] == "RecordOutcome"
    assert all(s["status"] == "completed" for s in shown["execution"]["steps"])
