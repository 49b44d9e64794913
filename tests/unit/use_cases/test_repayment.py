"""Re-payment use cases (SPEC §4) on the in-memory fakes: start once per request id, the evidence
findings, eligibility, the support desk's single decision, one charge however often the step runs,
and the outcome recorded and announced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cardops.payments.domain.payments import Payment, PaymentFacts, PaymentMetadata, PaymentStatus
from cardops.payments.domain.repayment import repayment_idempotency_key
from cardops.payments.domain.repayment_requests import PaymentRef, RepaymentStatus
from cardops.payments.domain.reservations import Reservation
from cardops.payments.providers.recharge import SavedCard
from cardops.payments.use_cases.repayment import (
    ChargeNotCaptured,
    DocumentTooLarge,
    InvalidStart,
    NotAwaitingDecision,
    RepaymentNotFound,
    Repayments,
    RequestIdReused,
)
from tests.fakes.repayment import RepaymentWorld

SAMPLES = Path(__file__).parents[3] / "events" / "repayment"
AUTHORIZED_AT = datetime(2025, 3, 1, tzinfo=UTC)
NOW = datetime(2025, 3, 12, 3, 0, tzinfo=UTC)
ORIGINAL = PaymentRef(provider="payjp", provider_payment_id="ch_original")
DESK = "console:support-1"


def evidence(**overrides: Any) -> dict[str, Any]:
    sample = json.loads((SAMPLES / "evidence.json").read_text(encoding="utf-8"))["evidence"]
    fields = {k: v for k, v in sample.items() if k != "document"}
    fields.update(overrides)
    return fields


@pytest.fixture
def world() -> RepaymentWorld:
    made = RepaymentWorld(now=NOW)
    made.reservations.put(
        Reservation(
            reservation_id="rsv_20250301_0007",
            store_id="store_042",
            holder_name="山田 花子",
            email="hanako.yamada@example.jp",
            tel="090-1234-5678",
            reserved_at=datetime.fromisoformat("2025-03-05T18:00:00+09:00"),
            amount=12000,
            tax_treatment="inclusive",
            updated_at=AUTHORIZED_AT,
        )
    )
    made.payments.payments[("payjp", "ch_original")] = Payment(
        provider="payjp",
        provider_payment_id="ch_original",
        facts=PaymentFacts(
            currency="JPY", authorized_amount=12000, authorized_at=AUTHORIZED_AT, expired=True, canceled=True
        ),
        metadata=PaymentMetadata(store_id="store_042", reservation_id="rsv_20250301_0007"),
        status=PaymentStatus.EXPIRED_REFUNDED,
        created_at=AUTHORIZED_AT,
        updated_at=AUTHORIZED_AT,
    )
    return made


def start(repayments: Repayments, request_id: str = "rq_1", **fields: Any) -> Any:
    return repayments.start(
        request_id=request_id,
        original_payment=ORIGINAL,
        evidence=evidence(**fields),
        document=(SAMPLES / "consent.eml").read_bytes(),
        kind="eml",
        actor=DESK,
    )


def awaiting(world: RepaymentWorld, request_id: str = "rq_1") -> Repayments:
    """A request that passed validation and eligibility and waits for the desk (token ``tok``)."""
    repayments = world.repayments()
    start(repayments, request_id)
    assert repayments.validate_step(request_id)["valid"] is True
    assert repayments.eligibility_step(request_id)["eligible"] is True
    repayments.await_decision_step(request_id, "tok")
    world.workflow.waiting.add("tok")
    return repayments


def test_a_new_request_stores_the_document_records_it_and_starts_its_workflow(world: RepaymentWorld) -> None:
    started = start(world.repayments())
    assert started.duplicate is False
    key = "evidence/store_042/rq_1/consent.eml"
    assert world.evidence.objects[key] == (SAMPLES / "consent.eml").read_bytes()
    assert world.requests.get("rq_1") == started.record
    assert started.record.execution_arn == world.workflow.execution_arn("rq_1")
    assert world.workflow.executions == {
        "rq_1": {"request_id": "rq_1", "decision_timeout_seconds": 7 * 86400, "error": None}
    }
    assert world.requests.steps("rq_1") == [("start", "started")]
    assert [c["request_id"] for c in world.cases.opened] == ["rq_1"]


def test_the_same_request_again_is_the_same_request_and_other_evidence_is_refused(
    world: RepaymentWorld,
) -> None:
    repayments = world.repayments()
    first = start(repayments)
    again = start(repayments)
    assert again.duplicate is True and again.record == first.record
    assert len(world.workflow.executions) == 1 and len(world.cases.opened) == 1
    assert world.requests.steps("rq_1") == [("start", "started")]  # audited once

    with pytest.raises(RequestIdReused):
        start(repayments, amount=13000)
    assert world.requests.get("rq_1") == first.record


def test_an_empty_or_oversized_document_or_unsafe_key_is_refused_before_anything_is_stored(
    world: RepaymentWorld,
) -> None:
    repayments = world.repayments()
    base: dict[str, Any] = {
        "original_payment": ORIGINAL,
        "evidence": evidence(),
        "kind": "eml",
        "actor": DESK,
    }
    with pytest.raises(InvalidStart) as empty:
        repayments.start(request_id="rq_1", document=b"", **base)
    assert empty.value.code == "document_empty"
    with pytest.raises(DocumentTooLarge):
        repayments.start(request_id="rq_1", document=b"x" * (64 * 1024 + 1), **base)
    with pytest.raises(InvalidStart) as unsafe:
        repayments.start(request_id="../rq", document=b"x", **base)
    assert unsafe.value.code == "invalid_key"
    assert world.requests.records == {} and world.evidence.objects == {} and world.workflow.starts == 0


def test_validation_names_every_finding_at_once(world: RepaymentWorld) -> None:
    repayments = world.repayments()
    start(repayments, holder_name="山田 太郎", tel="090-0000-0000")
    result = repayments.validate_step("rq_1")
    assert result["valid"] is False
    assert {r["reason"] for r in result["rejections"]} >= {"holder_name_mismatch", "tel_mismatch"}
    assert [f.reason for f in world.requests.records["rq_1"].rejections] == [
        r["reason"] for r in result["rejections"]
    ]
    assert world.requests.steps("rq_1")[-1] == ("validate", "rejected")


def test_validation_finds_a_missing_reservation_payment_and_document(world: RepaymentWorld) -> None:
    repayments = world.repayments()
    start(repayments)
    world.reservations.reservations.clear()
    world.payments.payments.clear()
    world.evidence.objects.clear()
    reasons = {r["reason"] for r in repayments.validate_step("rq_1")["rejections"]}
    assert reasons == {"reservation_not_found", "original_payment_not_found", "document_missing"}


def test_a_document_changed_after_the_upload_fails_its_checksum(world: RepaymentWorld) -> None:
    repayments = world.repayments()
    start(repayments)
    key = "evidence/store_042/rq_1/consent.eml"
    world.evidence.objects[key] = world.evidence.objects[key] + b"\n"
    reasons = {r["reason"] for r in repayments.validate_step("rq_1")["rejections"]}
    assert "document_checksum_mismatch" in reasons


def test_eligibility_needs_a_reusable_card_of_a_brand_allowing_the_charge(world: RepaymentWorld) -> None:
    repayments = world.repayments()
    start(repayments)
    assert repayments.eligibility_step("rq_1")["outcome"] == "eligible"

    assert world.recharger is not None
    world.recharger.card = SavedCard(customer_id="cus_1", reusable=True, brand="diners club")
    refused = repayments.eligibility_step("rq_1")
    assert (refused["eligible"], refused["reason"]) == (False, "brand_disallows")
    assert world.requests.records["rq_1"].eligibility == refused

    world.recharger = None  # a provider that cannot charge a saved card again
    world.now = AUTHORIZED_AT + timedelta(days=61)
    late = world.repayments().eligibility_step("rq_1")
    assert late["reasons"] == ["window_passed", "card_not_reusable", "brand_disallows"]
    assert late["suggested_methods"]


def test_awaiting_a_decision_keeps_the_token_and_tells_the_desk(world: RepaymentWorld) -> None:
    awaiting(world)
    assert world.requests.get_with_token("rq_1") == (world.requests.records["rq_1"], "tok")
    assert world.requests.records["rq_1"].status is RepaymentStatus.AWAITING_DECISION
    assert world.events.published == [("RepaymentAwaitingDecision", {"request_id": "rq_1"})]


def test_the_desk_approves_once_and_a_second_decision_is_refused(world: RepaymentWorld) -> None:
    repayments = awaiting(world)
    decided = repayments.decide("rq_1", "approve", reason=None, actor=DESK)
    assert decided.status is RepaymentStatus.APPROVED
    assert decided.decision is not None and decided.decision.decided_by == DESK
    assert world.workflow.answered == [("tok", {"decision": "approve", "decided_by": DESK})]
    assert world.requests.get_with_token("rq_1") == (decided, None)
    assert world.requests.steps("rq_1")[-1] == ("decision", "approved")

    with pytest.raises(NotAwaitingDecision, match="already approved"):
        repayments.decide("rq_1", "reject", reason="changed my mind", actor=DESK)
    assert len(world.workflow.answered) == 1


def test_a_rejection_keeps_its_reason(world: RepaymentWorld) -> None:
    repayments = awaiting(world)
    decided = repayments.decide("rq_1", "reject", reason="consent unclear", actor=DESK)
    assert decided.status is RepaymentStatus.REJECTED
    assert world.requests.trail["rq_1"][-1].detail == {"reason": "consent unclear"}


def test_no_decision_before_the_decision_step_nor_after_it_timed_out(world: RepaymentWorld) -> None:
    repayments = world.repayments()
    with pytest.raises(RepaymentNotFound):
        repayments.decide("rq_none", "approve", reason=None, actor=DESK)
    start(repayments)
    with pytest.raises(NotAwaitingDecision, match="not waiting for a decision yet"):
        repayments.decide("rq_1", "approve", reason=None, actor=DESK)

    repayments.await_decision_step("rq_1", "tok_expired")  # the workflow no longer waits on it
    with pytest.raises(NotAwaitingDecision, match="TaskTimedOut"):
        repayments.decide("rq_1", "approve", reason=None, actor=DESK)
    assert world.requests.get_with_token("rq_1") is not None
    assert world.requests.steps("rq_1")[-1] == ("await_decision", "awaiting_decision")


def test_an_approved_request_is_charged_once_captured_and_linked(world: RepaymentWorld) -> None:
    repayments = awaiting(world)
    repayments.decide("rq_1", "approve", reason=None, actor=DESK)
    first = repayments.charge_step("rq_1")
    again = repayments.charge_step("rq_1")  # a retried step
    assert first == again == {
        "provider": "payjp", "provider_payment_id": "ch_new_1", "amount": 12000, "captured": True,
    }  # fmt: skip
    assert world.recharger is not None
    assert [c["idempotency_key"] for c in world.recharger.calls] == [repayment_idempotency_key("rq_1")]
    new = world.payments.get("payjp", "ch_new_1")
    assert new is not None and new.status is PaymentStatus.CAPTURED and new.facts.captured_amount == 12000
    relations = {(pid, link.relation) for (_, pid), links in world.links.links.items() for link in links}
    assert relations == {("ch_new_1", "repayment_of"), ("ch_original", "repaid_by")}
    assert world.requests.records["rq_1"].new_payment == PaymentRef(
        provider="payjp", provider_payment_id="ch_new_1"
    )
    assert [s for s, _ in world.requests.steps("rq_1")].count("charge") == 1


def test_a_charge_needs_an_approval_and_a_capture(world: RepaymentWorld) -> None:
    repayments = awaiting(world)
    with pytest.raises(NotAwaitingDecision, match="a charge needs an approval"):
        repayments.charge_step("rq_1")
    repayments.decide("rq_1", "approve", reason=None, actor=DESK)
    assert world.recharger is not None
    world.recharger.captures = False
    with pytest.raises(ChargeNotCaptured, match="did not capture"):
        repayments.charge_step("rq_1")
    world.recharger.card = SavedCard(customer_id=None, reusable=False, brand="visa")
    with pytest.raises(ChargeNotCaptured, match="no longer reusable"):
        repayments.charge_step("rq_1")
    world.recharger = None
    with pytest.raises(ChargeNotCaptured, match="no re-charge support for payjp"):
        world.repayments().charge_step("rq_1")
    assert world.requests.records["rq_1"].new_payment is None
    assert world.payments.get("payjp", "ch_new_1") is None


def test_finish_records_the_outcome_and_announces_it_without_personal_data(world: RepaymentWorld) -> None:
    repayments = awaiting(world)
    repayments.decide("rq_1", "approve", reason=None, actor=DESK)
    repayments.charge_step("rq_1")
    output = repayments.finish_step({"request_id": "rq_1", "outcome": "charged"})
    assert output["outcome"] == "charged"
    assert output["new_payment"] == {"provider": "payjp", "provider_payment_id": "ch_new_1"}
    assert world.requests.records["rq_1"].status is RepaymentStatus.CHARGED
    assert world.events.published[-1] == ("RepaymentOutcome", output)
    assert "hanako" not in json.dumps(output)
    shown = repayments.show("rq_1")
    assert [e.step for e in shown.audit] == [
        "start", "validate", "eligibility", "await_decision", "decision", "charge", "outcome",
    ]  # fmt: skip
    assert shown.execution is not None and shown.execution.status == "RUNNING"


def test_a_failed_charge_ends_with_its_error_name(world: RepaymentWorld) -> None:
    repayments = awaiting(world)
    repayments.decide("rq_1", "approve", reason=None, actor=DESK)
    error = {"Error": "ChargeNotCaptured", "Cause": "{}"}
    output = repayments.finish_step({"request_id": "rq_1", "outcome": "charge_failed", "error": error})
    assert (output["outcome"], output["error"]) == ("charge_failed", "ChargeNotCaptured")
    record = world.requests.records["rq_1"]
    assert (record.status, record.error) == (RepaymentStatus.CHARGE_FAILED, "ChargeNotCaptured")
    assert world.requests.trail["rq_1"][-1].reasons == ("ChargeNotCaptured",)


def test_the_desk_previews_the_stored_document(world: RepaymentWorld) -> None:
    repayments = world.repayments()
    start(repayments)
    preview = repayments.document_preview("rq_1")
    assert preview.kind == "eml" and preview.size == len((SAMPLES / "consent.eml").read_bytes())
    world.evidence.objects.clear()
    assert repayments.document_preview("rq_1").note == "the document is missing"
    assert [v.request_id for v in repayments.list_requests()] == ["rq_1"]


def test_a_late_decision_step_does_not_reopen_an_expired_request(world: RepaymentWorld) -> None:
    """The decision wait can time out before its step's Lambda ran (or while it runs): the request
    stays expired, keeps no token, and the desk cannot decide it."""
    repayments = world.repayments()
    start(repayments)
    assert repayments.validate_step("rq_1")["valid"] is True
    assert repayments.eligibility_step("rq_1")["eligible"] is True
    expired = {"request_id": "rq_1", "outcome": "expired", "error": {"Error": "States.Timeout"}}
    set_token = world.requests.set_task_token
    closed: list[str] = []

    def closing_first(request_id: str, token: str | None) -> None:
        if token is not None and not closed:  # the timeout's close lands between the read and the save
            closed.append(request_id)
            repayments.finish_step(expired)
        set_token(request_id, token)

    world.requests.set_task_token = closing_first  # type: ignore[method-assign]
    repayments.await_decision_step("rq_1", "tok_late")
    assert closed == ["rq_1"]
    repayments.await_decision_step("rq_1", "tok_later")  # and a retry of the step after the close

    record, token = world.requests.get_with_token("rq_1") or (None, "missing")
    assert record is not None and record.status is RepaymentStatus.EXPIRED and not token
    assert ("await_decision", "awaiting_decision") not in world.requests.steps("rq_1")
    with pytest.raises(NotAwaitingDecision):
        repayments.decide("rq_1", "approve", reason=None, actor=DESK)


def test_a_late_decision_step_does_not_undo_the_desks_decision(world: RepaymentWorld) -> None:
    repayments = awaiting(world)
    repayments.decide("rq_1", "approve", reason=None, actor=DESK)
    repayments.await_decision_step("rq_1", "tok_retried")  # the step's Lambda run again, late

    record, token = world.requests.get_with_token("rq_1") or (None, "missing")
    assert record is not None and record.status is RepaymentStatus.APPROVED
    assert token != "tok_retried"
    assert world.requests.steps("rq_1").count(("await_decision", "awaiting_decision")) == 1
