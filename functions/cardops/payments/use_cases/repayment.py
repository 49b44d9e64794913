"""Re-payment-evidence use cases (SPEC §4): start, the workflow's steps, the support-desk decision.

The workflow (``payments/state_machines/repayment.asl.json``) calls one function per step: validate the
evidence, check eligibility, wait for the support desk (task token), charge once, record the
outcome. Every step writes the audit trail; every failure is a named reason, never a crash. The
execution carries only the request id and named results: the evidence (personal data) stays in
the table and the document in the evidence bucket.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, ValidationError

from cardops.kernel import aws, clock
from cardops.kernel.config import Settings, settings
from cardops.payments.domain.payment_notes import repayment_links
from cardops.payments.domain.payments import EventKind, Payment
from cardops.payments.domain.repayment import (
    CONTENT_TYPES,
    DocumentKind,
    EvidenceDocument,
    RepaymentEvidence,
    ReservationRecord,
    check_eligibility,
    repayment_idempotency_key,
    validate_document,
    validate_evidence,
)
from cardops.payments.domain.repayment_requests import (
    AuditEntry,
    Decision,
    Finding,
    PaymentRef,
    RepaymentRecord,
    RepaymentStatus,
    request_fingerprint,
)
from cardops.payments.domain.reservations import Reservation
from cardops.payments.providers import registry
from cardops.payments.providers.recharge import Recharger, SavedCard
from cardops.payments.store.evidence import EvidenceStore, document_key
from cardops.payments.store.payment_notes import PaymentNoteStore
from cardops.payments.store.payments import PaymentRepository, ReservationRepository
from cardops.payments.store.repayment import AlreadyExists, RepaymentStore, StatusConflict
from cardops.payments.use_cases.payment_events import apply_canonical
from cardops.support import hooks

EVENT_SOURCE = "cardops.repayment"


# -- errors the API maps to HTTP ---------------------------------------------------------------


class RepaymentNotFound(Exception):
    pass


class RequestIdReused(Exception):
    """The request id was started before with other evidence."""


class NotAwaitingDecision(Exception):
    """No decision can be taken now (not yet at the decision step, or already decided/ended).

    The message names the request and its status, so the desk sees why its decision was refused.
    """

    def __init__(self, request_id: str, status: str, detail: str | None = None) -> None:
        if status == RepaymentStatus.STARTED.value:
            message = f"request {request_id} is not waiting for a decision yet (it is {status})"
        elif status == RepaymentStatus.AWAITING_DECISION.value:
            message = f"request {request_id} cannot be decided now: {detail or 'no decision step is waiting'}"
        else:
            message = f"request {request_id} is already {status}"
        super().__init__(message)
        self.request_id = request_id
        self.status = status


class DocumentTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"document of {size} bytes exceeds {limit} bytes")
        self.limit = limit


class InvalidStart(Exception):
    """The start request cannot become a re-payment request (named ``code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidEvidence(InvalidStart):
    """The evidence fields do not validate: each error named, its ``loc`` under ``evidence``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid_evidence", "evidence fields are invalid")
        self.errors = errors

    @classmethod
    def of(cls, exc: ValidationError) -> InvalidEvidence:
        return cls(
            [
                {"loc": ["evidence", *(str(p) for p in e["loc"])], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors()
            ]
        )


class ChargeNotCaptured(Exception):
    """The provider answered without capturing the new charge: permanent, never retried."""


# -- helpers -----------------------------------------------------------------------------------


def _store() -> RepaymentStore:
    return RepaymentStore()


def _audit(request_id: str, step: str, result: str, **kwargs: Any) -> None:
    _store().audit(request_id, AuditEntry(at=clock.now(), step=step, result=result, **kwargs))


def notify(detail_type: str, detail: Mapping[str, Any]) -> None:
    """A notification event on the bus (support desk, store dashboards); ids and outcomes only."""
    aws.client("events").put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, ensure_ascii=False, default=str),
                "EventBusName": settings().event_bus_name,
            }
        ]
    )


def recharger_for(provider: str) -> Recharger | None:
    """The provider adapter that can charge a saved card again; ``None`` where we have none."""
    plugin = registry.find(provider)
    return plugin.recharger() if plugin is not None else None


def _record(request_id: str) -> RepaymentRecord:
    record = _store().get(request_id)
    if record is None:
        raise RepaymentNotFound(request_id)
    return record


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def reservation_record(reservation: Reservation) -> ReservationRecord:
    """The stored reservation as the evidence rules read it; a TEL given at booking was required."""
    return ReservationRecord(
        reservation_id=reservation.reservation_id,
        store_id=reservation.store_id,
        holder_name=reservation.holder_name,
        email=str(reservation.email),
        tel=reservation.tel,
        reserved_at=reservation.reserved_at,
        amount=reservation.amount,
        tax_treatment=reservation.tax_treatment,
        required_contacts=frozenset({"tel"}) if reservation.tel else frozenset(),
    )


# -- start -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    record: RepaymentRecord
    duplicate: bool


def start(
    *,
    request_id: str,
    original_payment: PaymentRef,
    evidence: Mapping[str, Any],
    document: bytes,
    kind: DocumentKind,
    actor: str,
) -> Started:
    """Upload the document, record the request and start its workflow; a repeat finds the same one."""
    config = settings()
    if not document:
        raise InvalidStart("document_empty", "the evidence document is empty")
    if len(document) > config.repayment_max_document_bytes:
        raise DocumentTooLarge(len(document), config.repayment_max_document_bytes)
    store_id = str(evidence.get("store_id") or "")
    try:
        key = document_key(store_id, request_id, kind)
    except ValueError as exc:
        raise InvalidStart("invalid_key", "store id or request id has unsafe characters") from exc
    declared = EvidenceDocument(
        key=key,
        sha256=hashlib.sha256(document).hexdigest(),
        content_type=CONTENT_TYPES[kind],
        size=len(document),
    )
    fields = {k: v for k, v in evidence.items() if k != "document"}
    parsed = RepaymentEvidence.model_validate({**fields, "document": declared.model_dump()})
    fingerprint = request_fingerprint(original_payment, parsed)
    existing = _store().get(request_id)
    if existing is None:
        EvidenceStore().put(key, document, kind)
        now = clock.now()
        record = RepaymentRecord(
            request_id=request_id,
            original_payment=original_payment,
            evidence=parsed,
            fingerprint=fingerprint,
            execution_arn=_execution_arn(settings().repayment_state_machine_arn, request_id),
            created_at=now,
            updated_at=now,
        )
        try:
            _store().create(record)
        except AlreadyExists:
            existing = _store().get(request_id)
        else:
            _audit(request_id, "start", "started", actor=actor, detail={"document_key": key})
            _start_execution(record, config)
            hooks.repayment_requested(
                request_id=request_id, provider=original_payment.provider,
                payment_id=original_payment.provider_payment_id, store_id=store_id,
                reservation_id=parsed.reservation_id, actor=actor,
            )  # fmt: skip
            return Started(record=record, duplicate=False)
    assert existing is not None
    if existing.fingerprint != fingerprint:
        raise RequestIdReused(request_id)
    _start_execution(existing, config)
    return Started(record=existing, duplicate=True)


def _start_execution(record: RepaymentRecord, config: Settings) -> None:
    """Start (or find) the execution named by the request id: StartExecution is idempotent by name."""
    payload = {
        "request_id": record.request_id,
        "decision_timeout_seconds": config.repayment_decision_timeout_seconds,
        "error": None,
    }
    try:
        aws.stepfunctions().start_execution(
            stateMachineArn=settings().repayment_state_machine_arn,
            name=record.request_id,
            input=json.dumps(payload),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise


# -- workflow steps ----------------------------------------------------------------------------


def validate_step(request_id: str) -> dict[str, Any]:
    """Every evidence field and the document; all findings at once, each a named reason."""
    record = _record(request_id)
    config = settings()
    evidence = record.evidence
    findings: list[Finding] = []
    reservation = ReservationRepository().get(evidence.reservation_id)
    ref = record.original_payment
    payment = PaymentRepository().get(ref.provider, ref.provider_payment_id)
    if reservation is None:
        findings.append(
            Finding(reason="reservation_not_found", field="reservation_id", message="no such reservation")
        )
    if payment is None:
        findings.append(
            Finding(
                reason="original_payment_not_found",
                field="original_payment",
                message="the original payment is unknown",
            )
        )
    if reservation is not None and payment is not None:
        findings.extend(
            Finding.model_validate(r.model_dump())
            for r in validate_evidence(evidence, reservation_record(reservation), payment)
        )
    findings.extend(_document_findings(evidence, reservation, config))
    findings = _unique(findings)
    valid = not findings
    updated = record.model_copy(update={"rejections": tuple(findings), "updated_at": clock.now()})
    _store().save(updated)
    _audit(
        request_id,
        "validate",
        "valid" if valid else "rejected",
        reasons=tuple(f.reason for f in findings),
    )
    return {"valid": valid, "rejections": [f.model_dump() for f in findings]}


def _document_findings(
    evidence: RepaymentEvidence, reservation: Reservation | None, config: Settings
) -> list[Finding]:
    document = evidence.document
    if not document.key.startswith(f"evidence/{evidence.store_id}/"):
        return [
            Finding(
                reason="document_store_mismatch",
                field="document",
                message="the document is filed under another store",
            )
        ]
    stored = EvidenceStore().get(document.key, max_bytes=config.repayment_max_document_bytes)
    if stored is None:
        return [Finding(reason="document_missing", field="document", message="no document under the key")]
    if stored.content is None:
        return [
            Finding(
                reason="document_too_large",
                field="document",
                message=f"document exceeds {config.repayment_max_document_bytes} bytes",
            )
        ]
    out: list[Finding] = []
    if stored.sha256 is not None and stored.sha256 != document.sha256:
        out.append(
            Finding(
                reason="document_checksum_mismatch",
                field="document",
                message="stored SHA-256 differs from the declared one",
            )
        )
    address = str(reservation.email) if reservation is not None else evidence.email
    out.extend(
        Finding.model_validate(r.model_dump())
        for r in validate_document(
            stored.content,
            document.kind,
            address,
            config.repayment_support_address,
            config.repayment_max_document_bytes,
            store_id=evidence.store_id,
            declared=document,
        )
    )
    return out


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out: list[Finding] = []
    for finding in findings:
        if (finding.reason, finding.field) not in seen:
            seen.add((finding.reason, finding.field))
            out.append(finding)
    return out


def _original(record: RepaymentRecord) -> Payment:
    ref = record.original_payment
    payment = PaymentRepository().get(ref.provider, ref.provider_payment_id)
    if payment is None:
        raise RepaymentNotFound(f"original payment {ref.provider}/{ref.provider_payment_id}")
    return payment


def _saved_card(record: RepaymentRecord) -> SavedCard:
    recharger = recharger_for(record.original_payment.provider)
    if recharger is None:
        return SavedCard(customer_id=None, reusable=False, brand=None)
    return recharger.saved_card(record.original_payment.provider_payment_id)


def eligibility_step(request_id: str) -> dict[str, Any]:
    """Expired-refunded, within the window, a reusable card of a brand allowing the charge."""
    record = _record(request_id)
    config = settings()
    payment = _original(record)
    card = _saved_card(record)
    result = check_eligibility(
        payment,
        clock.now(),
        timedelta(days=config.repayment_window_days),
        card_reusable=card.reusable and card.customer_id is not None,
        brand_allows_mit=config.brand_allows_mit(card.brand),
    )
    summary: dict[str, Any] = {
        "eligible": result.eligible,
        "outcome": result.outcome,
        "reason": result.reason.value if result.reason else None,
        "reasons": [r.value for r in result.reasons],
        "suggested_methods": list(result.suggested_methods),
        "window_ends_at": result.window_ends_at.isoformat() if result.window_ends_at else None,
    }
    _store().save(record.model_copy(update={"eligibility": summary, "updated_at": clock.now()}))
    _audit(request_id, "eligibility", result.outcome, reasons=tuple(summary["reasons"]))
    return summary


def await_decision_step(request_id: str, task_token: str) -> None:
    """Keep the task token with the request and tell the support desk a decision is awaited."""
    record = _record(request_id)
    store = _store()
    store.set_task_token(request_id, task_token)
    store.save(
        record.model_copy(update={"status": RepaymentStatus.AWAITING_DECISION, "updated_at": clock.now()})
    )
    _audit(request_id, "await_decision", "awaiting_decision")
    notify("RepaymentAwaitingDecision", {"request_id": request_id})


def decide(
    request_id: str, decision: Literal["approve", "reject"], *, reason: str | None, actor: str
) -> RepaymentRecord:
    """The support desk's decision: sends the task token; a second decision is refused."""
    found = _store().get_with_token(request_id)
    if found is None:
        raise RepaymentNotFound(request_id)
    record, token = found
    if record.status is not RepaymentStatus.AWAITING_DECISION or not token:
        raise NotAwaitingDecision(request_id, record.status.value)
    now = clock.now()
    updated = record.model_copy(
        update={
            "decision": Decision(decision=decision, reason=reason, decided_by=actor, decided_at=now),
            "status": RepaymentStatus.APPROVED if decision == "approve" else RepaymentStatus.REJECTED,
            "updated_at": now,
        }
    )
    try:
        _store().save(updated, expected=(RepaymentStatus.AWAITING_DECISION,))
    except StatusConflict as exc:
        latest = _store().get_with_token(request_id)
        status = latest[0].status.value if latest else record.status.value
        raise NotAwaitingDecision(request_id, status, "decided concurrently") from exc
    try:
        aws.stepfunctions().send_task_success(
            taskToken=token, output=json.dumps({"decision": decision, "decided_by": actor})
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise NotAwaitingDecision(
                request_id, record.status.value, f"the workflow answered {code}"
            ) from exc
        raise
    _store().set_task_token(request_id, None)
    _audit(
        request_id,
        "decision",
        "approved" if decision == "approve" else "rejected",
        actor=actor,
        detail={"reason": reason} if reason else {},
    )
    return updated


def charge_step(request_id: str) -> dict[str, Any]:
    """One new payment on the saved card, captured at once, linked to the original and reservation.

    The provider idempotency key comes from the request id, so a retried step (or a lost response)
    cannot charge twice; once the new payment is recorded, a rerun does not call the provider.
    """
    record = _record(request_id)
    if record.new_payment is not None:
        return _charge_summary(record.new_payment, record.evidence.amount)
    if record.decision is None or record.decision.decision != "approve":
        raise NotAwaitingDecision(request_id, record.status.value, "a charge needs an approval")
    recharger = recharger_for(record.original_payment.provider)
    if recharger is None:
        raise ChargeNotCaptured(f"no re-charge support for {record.original_payment.provider}")
    payment = _original(record)
    card = recharger.saved_card(record.original_payment.provider_payment_id)
    if card.customer_id is None or not card.reusable:
        raise ChargeNotCaptured("the saved card is no longer reusable")
    evidence = record.evidence
    metadata = {
        "store_id": evidence.store_id,
        "reservation_id": evidence.reservation_id,
        "repayment_of": record.original_payment.provider_payment_id,
        "repayment_request_id": request_id,
    }
    if payment.metadata.visit_date:
        metadata["visit_date"] = payment.metadata.visit_date.isoformat()
    if payment.metadata.accepted_at:
        metadata["accepted_at"] = payment.metadata.accepted_at.isoformat()
    charged = recharger.charge(
        customer_id=card.customer_id,
        amount=evidence.amount,
        currency=payment.facts.currency or "JPY",
        metadata=metadata,
        idempotency_key=repayment_idempotency_key(request_id),
        payment_method_id=card.payment_method_id,
    )
    if charged.facts.captured_amount < evidence.amount:
        raise ChargeNotCaptured("the provider did not capture the new charge")
    now = clock.now()
    apply_canonical(
        charged.as_event(
            provider=record.original_payment.provider,
            event_id=f"repayment:{request_id}",
            kind=EventKind.CAPTURED,
            occurred_at=now,
            actor=f"repayment:{request_id}",
        ),
        PaymentRepository(),
        now=now,
    )
    new = PaymentRef(
        provider=record.original_payment.provider, provider_payment_id=charged.provider_payment_id
    )
    # both payments name each other before the request does: a rerun after this point stops early
    for payment_id, link in repayment_links(
        provider=new.provider,
        original_id=record.original_payment.provider_payment_id,
        new_id=new.provider_payment_id,
        request_id=request_id,
        at=now,
    ):
        PaymentNoteStore().link(new.provider, payment_id, link)
    _store().save(record.model_copy(update={"new_payment": new, "updated_at": now}))
    _audit(
        request_id,
        "charge",
        "captured",
        detail={"provider_payment_id": new.provider_payment_id, "amount": evidence.amount},
    )
    return _charge_summary(new, evidence.amount)


def _charge_summary(new: PaymentRef, amount: int) -> dict[str, Any]:
    return {
        "provider": new.provider,
        "provider_payment_id": new.provider_payment_id,
        "amount": amount,
        "captured": True,
    }


def finish_step(state: Mapping[str, Any]) -> dict[str, Any]:
    """Record the outcome, notify, and answer the execution's output (named reasons, no PII)."""
    request_id = str(state["request_id"])
    outcome = RepaymentStatus(str(state["outcome"]))
    record = _record(request_id)
    error = state.get("error") if isinstance(state.get("error"), Mapping) else None
    error_name = str(error.get("Error")) if error else None
    updated = record.model_copy(update={"status": outcome, "error": error_name, "updated_at": clock.now()})
    _store().save(updated)
    _store().set_task_token(request_id, None)
    output: dict[str, Any] = {
        "request_id": request_id,
        "outcome": outcome.value,
        "original_payment": record.original_payment.model_dump(),
        "rejections": [f.model_dump() for f in record.rejections],
    }
    if outcome is RepaymentStatus.ALTERNATIVE_PAYMENT_REQUIRED and record.eligibility:
        output["reason"] = record.eligibility.get("reason")
        output["reasons"] = record.eligibility.get("reasons", [])
        output["suggested_methods"] = record.eligibility.get("suggested_methods", [])
    if record.new_payment is not None:
        output["new_payment"] = record.new_payment.model_dump()
    if error_name:
        output["error"] = error_name
    reasons = [f.reason for f in record.rejections] or list(output.get("reasons", []))
    _audit(
        request_id,
        "outcome",
        outcome.value,
        reasons=tuple(reasons) + ((error_name,) if error_name else ()),
    )
    notify("RepaymentOutcome", output)
    return output


# -- reading -----------------------------------------------------------------------------------

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


def execution_summary(execution_arn: str) -> ExecutionSummary | None:
    """The execution's history as steps a person reads: what ran, when, retries and errors."""
    sfn = aws.stepfunctions()
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return None
        raise
    events: list[Any] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
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


def view(record: RepaymentRecord, *, detail: bool = False) -> RepaymentView:
    result = RepaymentView(
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
    if detail:
        result.audit = sorted(_store().audit_trail(record.request_id), key=lambda e: e.at)
        if record.execution_arn:
            result.execution = execution_summary(record.execution_arn)
    return result


def show(request_id: str) -> RepaymentView:
    return view(_record(request_id), detail=True)


def list_requests(limit: int = 50) -> list[RepaymentView]:
    return [view(r) for r in _store().list(limit)]
