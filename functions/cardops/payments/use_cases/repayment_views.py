"""What a person reads of a re-payment request: the request as a view, and its workflow execution's
history as named steps (what ran, when, retries and errors). Pure: the use cases fetch, this shapes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cardops.payments.domain.repayment_requests import (
    AuditEntry,
    Decision,
    Finding,
    PaymentRef,
    RepaymentRecord,
)

STEP_DESCRIPTIONS: dict[str, str] = {
    "ValidateEvidence": "Check the evidence against the reservation, the original payment and the document",
    "EvidenceValid": "Is the evidence valid?",
    "EvidenceRejected": "Evidence rejected (named reasons)",
    "CheckEligibility": "Can the card be charged again (expired-refunded, window, reusable card, brand)?",
    "Eligible": "Is a re-payment possible?",
    "AlternativePaymentRequired": "Not possible: bank transfer or payment at the store",
    "AwaitSupportDecision": "Waiting for the support desk to approve or reject",
    "Approved": "Did the support desk approve?",
    "RejectedBySupport": "Rejected by the support desk",
    "DecisionExpired": "No decision in time: the request expired",
    "ChargeAgain": "Charge the saved card once, captured at once",
    "Charged": "New payment captured",
    "ChargeFailed": "The charge failed",
    "Failed": "The request could not be processed",
    "RecordOutcome": "Record the outcome, audit trail and notification",
}


class Step(BaseModel):
    name: str
    description: str
    status: Literal["completed", "in_progress", "failed"]
    entered_at: datetime | None = None
    exited_at: datetime | None = None
    attempts: int = 0
    errors: list[str] = Field(default_factory=list)


class ExecutionSummary(BaseModel):
    status: str
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    output: dict[str, Any] | None = None
    steps: list[Step] = Field(default_factory=list)


def execution_summary(described: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> ExecutionSummary:
    """DescribeExecution's answer and the execution's history events, as a person reads them."""
    output = described.get("output")
    return ExecutionSummary(
        status=described["status"],
        started_at=described.get("startDate"),
        stopped_at=described.get("stopDate"),
        output=json.loads(output) if output else None,
        steps=steps_from_history(events),
    )


_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled"})
_FAILED = frozenset({"TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut"})


def steps_from_history(events: Iterable[Mapping[str, Any]]) -> list[Step]:
    steps: list[Step] = []
    current: Step | None = None
    for event in events:
        kind = str(event.get("type", ""))
        at = event.get("timestamp")
        if kind.endswith("StateEntered"):
            name = str(event.get("stateEnteredEventDetails", {}).get("name", "?"))
            current = Step(
                name=name,
                description=STEP_DESCRIPTIONS.get(name, name),
                status="in_progress",
                entered_at=at,
            )
            steps.append(current)
        elif kind.endswith("StateExited") and current is not None:
            current.exited_at = at
            current.status = "completed"
            current = None
        elif current is not None and kind in _SCHEDULED:
            current.attempts += 1
        elif current is not None and kind in _FAILED:
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
            error = details.get("error") if isinstance(details, Mapping) else None
            current.errors.append(str(error or kind))
        elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted") and steps:
            steps[-1].status = "failed"
    return steps


class RepaymentView(BaseModel):
    request_id: str
    status: str
    store_id: str
    reservation_id: str
    amount: int
    original_payment: PaymentRef
    new_payment: PaymentRef | None
    rejections: list[Finding]
    eligibility: dict[str, Any] | None
    decision: Decision | None
    document_key: str
    document_sha256: str
    execution_arn: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    audit: list[AuditEntry] = Field(default_factory=list)
    execution: ExecutionSummary | None = None


def view(record: RepaymentRecord) -> RepaymentView:
    """The request without its audit trail and execution (lists, answers to a start or decision)."""
    return RepaymentView(
        request_id=record.request_id,
        status=record.status.value,
        store_id=record.evidence.store_id,
        reservation_id=record.evidence.reservation_id,
        amount=record.evidence.amount,
        original_payment=record.original_payment,
        new_payment=record.new_payment,
        rejections=list(record.rejections),
        eligibility=record.eligibility,
        decision=record.decision,
        document_key=record.evidence.document.key,
        document_sha256=record.evidence.document.sha256,
        execution_arn=record.execution_arn,
        error=record.error,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
