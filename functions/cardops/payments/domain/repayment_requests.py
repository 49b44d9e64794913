"""A re-payment request (SPEC §4) as it moves through its workflow, and its audit trail.

The request holds the evidence (personal data) and lives in the table; the workflow's execution
input and history carry only the request id, step names, named reasons and payment ids.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cardops.payments.domain.payments import Provider
from cardops.payments.domain.repayment import RepaymentEvidence

REQUEST_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
"""A request id is the workflow execution's name: a duplicate start finds the same execution."""


class RepaymentStatus(StrEnum):
    STARTED = "started"
    AWAITING_DECISION = "awaiting_decision"
    APPROVED = "approved"
    # outcomes
    EVIDENCE_REJECTED = "evidence_rejected"
    ALTERNATIVE_PAYMENT_REQUIRED = "alternative_payment_required"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CHARGED = "charged"
    CHARGE_FAILED = "charge_failed"
    FAILED = "failed"


OUTCOMES = frozenset(
    {
        RepaymentStatus.EVIDENCE_REJECTED,
        RepaymentStatus.ALTERNATIVE_PAYMENT_REQUIRED,
        RepaymentStatus.REJECTED,
        RepaymentStatus.EXPIRED,
        RepaymentStatus.CHARGED,
        RepaymentStatus.CHARGE_FAILED,
        RepaymentStatus.FAILED,
    }
)


class PaymentRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider
    provider_payment_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_:-]+$")


class Finding(BaseModel):
    """A named reason: a validation rejection, or a reason the card cannot be charged again."""

    model_config = ConfigDict(frozen=True)

    reason: str
    field: str
    message: str


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision: Literal["approve", "reject"]
    reason: str | None = None
    decided_by: str
    decided_at: datetime


class RepaymentRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    original_payment: PaymentRef
    evidence: RepaymentEvidence
    fingerprint: str
    status: RepaymentStatus = RepaymentStatus.STARTED
    execution_arn: str | None = None
    rejections: tuple[Finding, ...] = ()
    eligibility: dict[str, Any] | None = None
    decision: Decision | None = None
    new_payment: PaymentRef | None = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime


class AuditEntry(BaseModel):
    """One line of the audit trail: which step, what it concluded, who acted."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    step: str
    result: str
    actor: str = "workflow"
    reasons: tuple[str, ...] = ()
    detail: dict[str, Any] = Field(default_factory=dict)


def request_fingerprint(original: PaymentRef, evidence: RepaymentEvidence) -> str:
    """The same request started twice has the same fingerprint; a reused id with other content does not."""
    canonical = json.dumps(
        {"original": original.model_dump(), "evidence": evidence.model_dump(mode="json")},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
