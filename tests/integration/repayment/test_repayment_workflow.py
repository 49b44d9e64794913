"""The re-payment workflow with its real definition and handlers (moto executes the ASL)."""

from __future__ import annotations

import json
from typing import Any

from cardops.kernel import aws
from cardops.kernel.config import reset_settings
from cardops.payments.store.payments import PaymentRepository
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
    # each payment view names the other: the re-payment its original, the original its re-payment
    code, new_view = admin("GET", f"/admin/payments/payjp/{new_id}")
    assert code == 200
    assert new_view["repayment_of"]["provider_payment_id"] == charge_id
    assert new_view["repayment_of"]["request_id"] == "rq_test_0001"
    code, original_view = admin("GET", f"/admin/payments/payjp/{charge_id}")
    assert [p["provider_payment_id"] for p in original_view["repaid_by"]] == [new_id]
    assert original_view["repayment_of"] is None

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


def test_each_validation_failure_is_a_named_rejection_in_output_and_audit(
    env: Any, emulator: PayjpEmulator
) -> None:
    charge_id = original_payment(emulator)
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"holder_name": "山田 太郎"}, {"holder_name_mismatch"}),
        ({"email": "someone.else@example.jp"}, {"email_mismatch"}),
        ({"tel": "090-0000-0000"}, {"tel_mismatch"}),
        ({"tel": None}, {"contact_missing"}),
        ({"mail": "other@example.jp"}, {"email_mismatch"}),
        ({"reserved_at": "2025-03-06T18:00:00+09:00"}, {"reserved_at_mismatch"}),
        ({"reservation_id": "rsv_unknown"}, {"reservation_not_found"}),
        ({"amount": 12001}, {"amount_exceeds_original"}),
        ({"tax_treatment": None}, {"tax_treatment_missing"}),
        ({"tax_treatment": "exclusive"}, {"tax_treatment_mismatch"}),
        ({"subject": "再決済申請:store_042 3月6日"}, {"subject_invalid"}),
        ({"store_id": "store_999"}, {"store_mismatch"}),
    ]
    arns: list[str] = []
    for n, (override, _) in enumerate(cases):
        code, started = admin(
            "POST", "/admin/repayments", start_body(charge_id, request_id=f"rq_v{n}", **override)
        )
        assert code == 201, (override, started)
        arns.append(started["execution_arn"])
    code, unknown = admin("POST", "/admin/repayments", start_body("ch_unknown", request_id="rq_vx"))
    assert code == 201
    cases.append(({"original": "unknown"}, {"original_payment_not_found"}))
    arns.append(unknown["execution_arn"])

    for n, ((override, expected), arn) in enumerate(zip(cases, arns, strict=True)):
        output = outcome_of(arn)
        reasons = {r["reason"] for r in output["rejections"]}
        assert output["outcome"] == "evidence_rejected", override
        assert expected <= reasons, (override, reasons)
        request_id = "rq_vx" if n == len(cases) - 1 else f"rq_v{n}"
        code, shown = admin("GET", f"/admin/repayments/{request_id}")
        assert shown["status"] == "evidence_rejected"
        validate = next(e for e in shown["audit"] if e["step"] == "validate")
        assert validate["result"] == "rejected" and expected <= set(validate["reasons"])
        assert "eligibility" not in {e["step"] for e in shown["audit"]}
    assert not [c for c in emulator.charges.values() if c["metadata"].get("repayment_request_id")]


def test_ineligible_requests_need_an_alternative_payment(env: Any, emulator: PayjpEmulator) -> None:
    cases = {
        "rq_late": (original_payment(emulator, authorized_days_ago=61), "window_passed"),
        "rq_card": (original_payment(emulator, token="tok_not_reusable"), "card_not_reusable"),
        "rq_state": (original_payment(emulator, expire=False), "not_expired_refunded"),
    }
    arns = {}
    for request_id, (charge_id, _) in cases.items():
        code, started = admin("POST", "/admin/repayments", start_body(charge_id, request_id=request_id))
        assert code == 201, started
        arns[request_id] = started["execution_arn"]
    for request_id, (_, reason) in cases.items():
        output = outcome_of(arns[request_id])
        assert output["outcome"] == "alternative_payment_required"
        assert output["reason"] == reason
        assert output["suggested_methods"] == ["bank_transfer", "pay_at_store"]
        code, shown = admin("GET", f"/admin/repayments/{request_id}")
        assert shown["status"] == "alternative_payment_required"
        assert [e["step"] for e in shown["audit"]][-1] == "outcome"
        code, decided = admin("POST", f"/admin/repayments/{request_id}/decision", {"decision": "approve"})
        assert code == 409
        assert decided["error"]["message"] == f"request {request_id} is already alternative_payment_required"
    assert not [c for c in emulator.charges.values() if c["metadata"].get("repayment_request_id")]


def test_rejected_by_the_support_desk_charges_nothing(env: Any, emulator: PayjpEmulator) -> None:
    charge_id = original_payment(emulator)
    code, started = admin("POST", "/admin/repayments", start_body(charge_id))
    wait_for_status("rq_test_0001", "awaiting_decision")
    code, decided = admin(
        "POST", "/admin/repayments/rq_test_0001/decision", {"decision": "reject", "reason": "no consent call"}
    )
    assert code == 200 and decided["decision"]["decision"] == "reject"
    output = outcome_of(started["execution_arn"])
    assert output["outcome"] == "rejected"
    assert "new_payment" not in output
    code, again = admin("POST", "/admin/repayments/rq_test_0001/decision", {"decision": "approve"})
    assert code == 409 and again["error"]["code"] == "not_awaiting_decision"
    assert again["error"]["message"] == "request rq_test_0001 is already rejected"
    assert again["error"]["details"] == {"request_status": "rejected"}
    assert list(emulator.charges) == [charge_id]
    code, shown = admin("GET", "/admin/repayments/rq_test_0001")
    decision = next(e for e in shown["audit"] if e["step"] == "decision")
    assert decision["result"] == "rejected" and decision["detail"] == {"reason": "no consent call"}


def test_no_decision_in_time_expires_the_request(env: Any, emulator: PayjpEmulator, monkeypatch: Any) -> None:
    monkeypatch.setenv("REPAYMENT_DECISION_TIMEOUT_SECONDS", "1")
    reset_settings()  # settings are read once per process: read the new value
    charge_id = original_payment(emulator)
    code, started = admin("POST", "/admin/repayments", start_body(charge_id))
    output = outcome_of(started["execution_arn"])
    assert output["outcome"] == "expired"
    assert output["error"] == "States.Timeout"
    code, _late = admin("POST", "/admin/repayments/rq_test_0001/decision", {"decision": "approve"})
    assert code == 409
    assert list(emulator.charges) == [charge_id]
    code, shown = admin("GET", "/admin/repayments/rq_test_0001")
    assert shown["status"] == "expired"
    waited = next(s for s in shown["execution"]["steps"] if s["name"] == "AwaitSupportDecision")
    assert "States.Timeout" in waited["errors"]


def test_a_charge_failing_transiently_is_retried_and_charges_exactly_once(
    env: Any, emulator: PayjpEmulator
) -> None:
    charge_id = original_payment(emulator)
    _code, started = admin("POST", "/admin/repayments", start_body(charge_id))
    wait_for_status("rq_test_0001", "awaiting_decision")
    # more 5xx answers than the HTTP client's own attempts: the workflow's Retry must take over
    emulator._set_fault({"operation": "create", "mode": "server_error", "count": 4})
    admin("POST", "/admin/repayments/rq_test_0001/decision", {"decision": "approve"})
    output = outcome_of(started["execution_arn"])

    assert output["outcome"] == "charged"
    repayments = [c for c in emulator.charges.values() if c["metadata"].get("repayment_request_id")]
    assert len(repayments) == 1 and repayments[0]["captured"] is True
    assert output["new_payment"]["provider_payment_id"] == repayments[0]["id"]
    _code, shown = admin("GET", "/admin/repayments/rq_test_0001")
    charge_step = next(s for s in shown["execution"]["steps"] if s["name"] == "ChargeAgain")
    assert charge_step["attempts"] >= 2
    assert "TransientProviderError" in charge_step["errors"]
    assert [e["step"] for e in shown["audit"]].count("charge") == 1


def test_a_duplicate_start_is_the_same_execution(env: Any, emulator: PayjpEmulator) -> None:
    charge_id = original_payment(emulator)
    body = start_body(charge_id)
    first_code, first = admin("POST", "/admin/repayments", body)
    second_code, second = admin("POST", "/admin/repayments", body)
    assert (first_code, second_code) == (201, 200)
    assert second["duplicate"] is True and first["duplicate"] is False
    assert second["execution_arn"] == first["execution_arn"]
    machine = env.state_machine_arns["Repayment"]
    executions = aws.stepfunctions().list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == ["rq_test_0001"]

    code, reused = admin("POST", "/admin/repayments", start_body(charge_id, amount=11000))
    assert code == 409 and reused["error"]["code"] == "request_id_reused"

    wait_for_status("rq_test_0001", "awaiting_decision")
    admin("POST", "/admin/repayments/rq_test_0001/decision", {"decision": "approve"})
    assert outcome_of(first["execution_arn"])["outcome"] == "charged"
    # a start after the end still names the same (ended) execution and charges nothing more
    code, after = admin("POST", "/admin/repayments", body)
    assert code == 200 and after["execution_arn"] == first["execution_arn"]
    assert len([c for c in emulator.charges.values() if c["metadata"].get("repayment_request_id")]) == 1
    code, listed = admin("GET", "/admin/repayments")
    assert [r["request_id"] for r in listed] == ["rq_test_0001"]
