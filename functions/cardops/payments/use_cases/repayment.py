"""Re-payment-evidence use cases (SPEC §4): start, the workflow's steps, the support-desk decision.

The workflow (``payments/state_machines/repayment.asl.json``) calls one function per step: validate the
evidence, check eligibility, wait for the support desk (task token), charge once, record the
outcome. Every step writes the audit trail; every failure is a named reason, never a crash. The
execution carries only the request id and named results: the evidence (personal data) stays in
the table and the document in the evidence bucket.

``Repayments`` takes its ports in a ``RepaymentDeps``; ``payments/wiring.repayments()`` builds it on
the real adapters, ``tests/builders.fake_repayments()`` on the fakes of ``tests/fakes``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from cardops.kernel import clock
from cardops.kernel.config import REPAYMENT_MAX_DOCUMENT_BYTES
from cardops.payments.domain.payment_notes import PaymentLink, repayment_links
from cardops.payments.domain.payments import EventKind, Payment
from cardops.payments.domain.repayment import (
    CONTENT_TYPES,
    DocumentKind,
    DocumentPreview,
    EvidenceDocument,
    RepaymentEvidence,
    ReservationRecord,
    check_eligibility,
    preview_document,
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
from cardops.payments.providers.recharge import Recharger, SavedCard
from cardops.payments.store.evidence import StoredDocument, document_key
from cardops.payments.store.repayment import AlreadyExists, StatusConflict
from cardops.payments.store.repayment_workflow import TaskGone
from cardops.payments.use_cases.payment_events import Payments, apply_canonical
from cardops.payments.use_cases.repayment_views import RepaymentView, execution_summary, view

#: the notification events' source on the bus
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


# -- ports -------------------------------------------------------------------------------------


class Requests(Protocol):
    """The requests, their audit trail and the support desk's task token (``store.repayment``)."""

    def create(self, record: RepaymentRecord) -> None:
        """Refused with ``AlreadyExists`` when the request id was created before."""

    def save(self, record: RepaymentRecord, *, expected: tuple[RepaymentStatus, ...] | None = None) -> None:
        """Overwrite, keeping the token; ``StatusConflict`` unless the stored status is ``expected``."""

    def set_task_token(self, request_id: str, token: str | None) -> None: ...

    def get(self, request_id: str) -> RepaymentRecord | None: ...

    def get_with_token(self, request_id: str) -> tuple[RepaymentRecord, str | None] | None: ...

    def audit(self, request_id: str, entry: AuditEntry) -> None: ...

    def audit_trail(self, request_id: str) -> list[AuditEntry]: ...

    def list(self, limit: int = 50) -> list[RepaymentRecord]:
        """Newest first."""


class Reservations(Protocol):
    def get(self, reservation_id: str) -> Reservation | None: ...


class PaymentLinks(Protocol):
    """Where each payment of a re-payment names the other (``store.payment_notes``)."""

    def link(self, provider: str, payment_id: str, link: PaymentLink) -> None: ...


class EvidenceDocuments(Protocol):
    """The consent documents (``store.evidence``); reads never download more than ``max_bytes``."""

    def put(self, key: str, content: bytes, kind: DocumentKind) -> EvidenceDocument: ...

    def get(self, key: str, *, max_bytes: int) -> StoredDocument | None: ...


class Workflow(Protocol):
    """The re-payment state machine (``store.repayment_workflow``)."""

    def execution_arn(self, name: str) -> str: ...

    def start(self, name: str, payload: Mapping[str, Any]) -> None:
        """Start the execution ``name``; a second start of the same name is a no-op."""

    def send_success(self, token: str, output: Mapping[str, Any]) -> None:
        """Answer the waiting step; ``TaskGone`` when it no longer waits."""

    def describe(self, execution_arn: str) -> Mapping[str, Any] | None: ...

    def history(self, execution_arn: str) -> list[Mapping[str, Any]]: ...


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None: ...


class CaseOpener(Protocol):
    """Opens the support case of a new request (``support.hooks.repayment_requested``)."""

    def __call__(
        self, *, request_id: str, provider: str, payment_id: str, store_id: str,
        reservation_id: str | None, actor: str,
    ) -> object: ...  # fmt: skip


@dataclass(frozen=True)
class RepaymentPolicy:
    """The limits the settings give the re-payment rules."""

    #: may a merchant-initiated charge go to a card of this brand (``Settings.brand_allows_mit``)
    brand_allows_mit: Callable[[str | None], bool]
    window: timedelta = timedelta(days=60)
    decision_timeout_seconds: int = 7 * 86400
    max_document_bytes: int = REPAYMENT_MAX_DOCUMENT_BYTES
    support_address: str = "support@example.jp"


@dataclass(frozen=True)
class RepaymentDeps:
    requests: Requests
    payments: Payments
    reservations: Reservations
    links: PaymentLinks
    evidence: EvidenceDocuments
    workflow: Workflow
    events: Publisher
    #: the provider's re-charge adapter; ``None`` where it has none
    rechargers: Callable[[str], Recharger | None]
    open_case: CaseOpener
    policy: RepaymentPolicy
    now: Callable[[], datetime] = clock.now


# -- helpers -----------------------------------------------------------------------------------


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


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out: list[Finding] = []
    for finding in findings:
        if (finding.reason, finding.field) not in seen:
            seen.add((finding.reason, finding.field))
            out.append(finding)
    return out


def _charge_summary(new: PaymentRef, amount: int) -> dict[str, Any]:
    return {
        "provider": new.provider,
        "provider_payment_id": new.provider_payment_id,
        "amount": amount,
        "captured": True,
    }


@dataclass(frozen=True)
class Started:
    record: RepaymentRecord
    duplicate: bool


#: the statuses a request waits for the support desk from: started, or already waiting (the step's retry)
WAITS_FROM = (RepaymentStatus.STARTED, RepaymentStatus.AWAITING_DECISION)


class Repayments:
    """The re-payment use cases on their ports: the admin API, the console and the workflow's steps."""

    def __init__(self, deps: RepaymentDeps) -> None:
        self.deps = deps

    # -- helpers -------------------------------------------------------------------------------

    def _audit(self, request_id: str, step: str, result: str, **kwargs: Any) -> None:
        self.deps.requests.audit(
            request_id, AuditEntry(at=self.deps.now(), step=step, result=result, **kwargs)
        )

    def notify(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        """A notification event on the bus (support desk, store dashboards); ids and outcomes only."""
        self.deps.events.publish(detail_type, detail)

    def _record(self, request_id: str) -> RepaymentRecord:
        record = self.deps.requests.get(request_id)
        if record is None:
            raise RepaymentNotFound(request_id)
        return record

    def _original(self, record: RepaymentRecord) -> Payment:
        ref = record.original_payment
        payment = self.deps.payments.get(ref.provider, ref.provider_payment_id)
        if payment is None:
            raise RepaymentNotFound(f"original payment {ref.provider}/{ref.provider_payment_id}")
        return payment

    def _saved_card(self, record: RepaymentRecord) -> SavedCard:
        recharger = self.deps.rechargers(record.original_payment.provider)
        if recharger is None:
            return SavedCard(customer_id=None, reusable=False, brand=None)
        return recharger.saved_card(record.original_payment.provider_payment_id)

    # -- start ---------------------------------------------------------------------------------

    def start(
        self,
        *,
        request_id: str,
        original_payment: PaymentRef,
        evidence: Mapping[str, Any],
        document: bytes,
        kind: DocumentKind,
        actor: str,
    ) -> Started:
        """Upload the document, record the request and start its workflow; a repeat finds the same one."""
        deps, policy = self.deps, self.deps.policy
        if not document:
            raise InvalidStart("document_empty", "the evidence document is empty")
        if len(document) > policy.max_document_bytes:
            raise DocumentTooLarge(len(document), policy.max_document_bytes)
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
        existing = deps.requests.get(request_id)
        if existing is None:
            deps.evidence.put(key, document, kind)
            now = deps.now()
            record = RepaymentRecord(
                request_id=request_id,
                original_payment=original_payment,
                evidence=parsed,
                fingerprint=fingerprint,
                execution_arn=deps.workflow.execution_arn(request_id),
                created_at=now,
                updated_at=now,
            )
            try:
                deps.requests.create(record)
            except AlreadyExists:
                existing = deps.requests.get(request_id)
            else:
                self._audit(request_id, "start", "started", actor=actor, detail={"document_key": key})
                self._start_execution(record)
                deps.open_case(
                    request_id=request_id, provider=original_payment.provider,
                    payment_id=original_payment.provider_payment_id, store_id=store_id,
                    reservation_id=parsed.reservation_id, actor=actor,
                )  # fmt: skip
                return Started(record=record, duplicate=False)
        assert existing is not None
        if existing.fingerprint != fingerprint:
            raise RequestIdReused(request_id)
        self._start_execution(existing)
        return Started(record=existing, duplicate=True)

    def _start_execution(self, record: RepaymentRecord) -> None:
        """Start (or find) the execution named by the request id."""
        self.deps.workflow.start(
            record.request_id,
            {
                "request_id": record.request_id,
                "decision_timeout_seconds": self.deps.policy.decision_timeout_seconds,
                "error": None,
            },
        )

    # -- workflow steps ------------------------------------------------------------------------

    def validate_step(self, request_id: str) -> dict[str, Any]:
        """Every evidence field and the document; all findings at once, each a named reason."""
        deps = self.deps
        record = self._record(request_id)
        evidence = record.evidence
        findings: list[Finding] = []
        reservation = deps.reservations.get(evidence.reservation_id)
        ref = record.original_payment
        payment = deps.payments.get(ref.provider, ref.provider_payment_id)
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
        findings.extend(self._document_findings(evidence, reservation))
        findings = _unique(findings)
        valid = not findings
        updated = record.model_copy(update={"rejections": tuple(findings), "updated_at": deps.now()})
        deps.requests.save(updated)
        self._audit(
            request_id,
            "validate",
            "valid" if valid else "rejected",
            reasons=tuple(f.reason for f in findings),
        )
        return {"valid": valid, "rejections": [f.model_dump() for f in findings]}

    def _document_findings(
        self, evidence: RepaymentEvidence, reservation: Reservation | None
    ) -> list[Finding]:
        policy = self.deps.policy
        document = evidence.document
        if not document.key.startswith(f"evidence/{evidence.store_id}/"):
            return [
                Finding(
                    reason="document_store_mismatch",
                    field="document",
                    message="the document is filed under another store",
                )
            ]
        stored = self.deps.evidence.get(document.key, max_bytes=policy.max_document_bytes)
        if stored is None:
            return [Finding(reason="document_missing", field="document", message="no document under the key")]
        if stored.content is None:
            return [
                Finding(
                    reason="document_too_large",
                    field="document",
                    message=f"document exceeds {policy.max_document_bytes} bytes",
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
                policy.support_address,
                policy.max_document_bytes,
                store_id=evidence.store_id,
                declared=document,
            )
        )
        return out

    def eligibility_step(self, request_id: str) -> dict[str, Any]:
        """Expired-refunded, within the window, a reusable card of a brand allowing the charge."""
        deps = self.deps
        record = self._record(request_id)
        payment = self._original(record)
        card = self._saved_card(record)
        result = check_eligibility(
            payment,
            deps.now(),
            deps.policy.window,
            card_reusable=card.reusable and card.customer_id is not None,
            brand_allows_mit=deps.policy.brand_allows_mit(card.brand),
        )
        summary: dict[str, Any] = {
            "eligible": result.eligible,
            "outcome": result.outcome,
            "reason": result.reason.value if result.reason else None,
            "reasons": [r.value for r in result.reasons],
            "suggested_methods": list(result.suggested_methods),
            "window_ends_at": result.window_ends_at.isoformat() if result.window_ends_at else None,
        }
        deps.requests.save(record.model_copy(update={"eligibility": summary, "updated_at": deps.now()}))
        self._audit(request_id, "eligibility", result.outcome, reasons=tuple(summary["reasons"]))
        return summary

    def await_decision_step(self, request_id: str, task_token: str) -> None:
        """Keep the task token with the request and tell the support desk a decision is awaited."""
        requests = self.deps.requests
        record = self._record(request_id)
        if record.status not in WAITS_FROM:
            return  # decided, or closed when the wait timed out: a late step changes nothing
        requests.set_task_token(request_id, task_token)
        try:
            # a decision or a close (expiry) between the read and this save must not be undone
            requests.save(
                record.model_copy(
                    update={"status": RepaymentStatus.AWAITING_DECISION, "updated_at": self.deps.now()}
                ),
                expected=WAITS_FROM,
            )
        except StatusConflict:
            requests.set_task_token(request_id, None)  # closed meanwhile: its token is of no use
            return
        self._audit(request_id, "await_decision", "awaiting_decision")
        self.notify("RepaymentAwaitingDecision", {"request_id": request_id})

    def decide(
        self, request_id: str, decision: Literal["approve", "reject"], *, reason: str | None, actor: str
    ) -> RepaymentRecord:
        """The support desk's decision: sends the task token; a second decision is refused."""
        requests = self.deps.requests
        found = requests.get_with_token(request_id)
        if found is None:
            raise RepaymentNotFound(request_id)
        record, token = found
        if record.status is not RepaymentStatus.AWAITING_DECISION or not token:
            raise NotAwaitingDecision(request_id, record.status.value)
        now = self.deps.now()
        updated = record.model_copy(
            update={
                "decision": Decision(decision=decision, reason=reason, decided_by=actor, decided_at=now),
                "status": RepaymentStatus.APPROVED if decision == "approve" else RepaymentStatus.REJECTED,
                "updated_at": now,
            }
        )
        try:
            requests.save(updated, expected=(RepaymentStatus.AWAITING_DECISION,))
        except StatusConflict as exc:
            latest = requests.get_with_token(request_id)
            status = latest[0].status.value if latest else record.status.value
            raise NotAwaitingDecision(request_id, status, "decided concurrently") from exc
        try:
            self.deps.workflow.send_success(token, {"decision": decision, "decided_by": actor})
        except TaskGone as exc:
            raise NotAwaitingDecision(
                request_id, record.status.value, f"the workflow answered {exc.code}"
            ) from exc
        requests.set_task_token(request_id, None)
        self._audit(
            request_id,
            "decision",
            "approved" if decision == "approve" else "rejected",
            actor=actor,
            detail={"reason": reason} if reason else {},
        )
        return updated

    def charge_step(self, request_id: str) -> dict[str, Any]:
        """One new payment on the saved card, captured at once, linked to the original and reservation.

        The provider idempotency key comes from the request id, so a retried step (or a lost response)
        cannot charge twice; once the new payment is recorded, a rerun does not call the provider.
        """
        deps = self.deps
        record = self._record(request_id)
        if record.new_payment is not None:
            return _charge_summary(record.new_payment, record.evidence.amount)
        if record.decision is None or record.decision.decision != "approve":
            raise NotAwaitingDecision(request_id, record.status.value, "a charge needs an approval")
        recharger = deps.rechargers(record.original_payment.provider)
        if recharger is None:
            raise ChargeNotCaptured(f"no re-charge support for {record.original_payment.provider}")
        payment = self._original(record)
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
        now = deps.now()
        apply_canonical(
            charged.as_event(
                provider=record.original_payment.provider,
                event_id=f"repayment:{request_id}",
                kind=EventKind.CAPTURED,
                occurred_at=now,
                actor=f"repayment:{request_id}",
            ),
            deps.payments,
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
            deps.links.link(new.provider, payment_id, link)
        deps.requests.save(record.model_copy(update={"new_payment": new, "updated_at": now}))
        self._audit(
            request_id,
            "charge",
            "captured",
            detail={"provider_payment_id": new.provider_payment_id, "amount": evidence.amount},
        )
        return _charge_summary(new, evidence.amount)

    def finish_step(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Record the outcome, notify, and answer the execution's output (named reasons, no PII)."""
        requests = self.deps.requests
        request_id = str(state["request_id"])
        outcome = RepaymentStatus(str(state["outcome"]))
        record = self._record(request_id)
        error = state.get("error") if isinstance(state.get("error"), Mapping) else None
        error_name = str(error.get("Error")) if error else None
        updated = record.model_copy(
            update={"status": outcome, "error": error_name, "updated_at": self.deps.now()}
        )
        requests.save(updated)
        requests.set_task_token(request_id, None)
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
        self._audit(
            request_id,
            "outcome",
            outcome.value,
            reasons=tuple(reasons) + ((error_name,) if error_name else ()),
        )
        self.notify("RepaymentOutcome", output)
        return output

    # -- reading -------------------------------------------------------------------------------

    def show(self, request_id: str) -> RepaymentView:
        """The request with its audit trail and its execution's steps."""
        record = self._record(request_id)
        result = view(record)
        result.audit = sorted(self.deps.requests.audit_trail(record.request_id), key=lambda e: e.at)
        if record.execution_arn:
            described = self.deps.workflow.describe(record.execution_arn)
            if described is not None:
                events = self.deps.workflow.history(record.execution_arn)
                result.execution = execution_summary(described, events)
        return result

    def document_preview(self, request_id: str) -> DocumentPreview:
        """The consent document's headers (e-mail) or version (PDF), for the support desk's decision."""
        document = self._record(request_id).evidence.document
        stored = self.deps.evidence.get(document.key, max_bytes=self.deps.policy.max_document_bytes)
        if stored is None:
            return DocumentPreview(kind=document.kind, size=document.size, note="the document is missing")
        return preview_document(document.kind, stored.content, stored.size)

    def list_requests(self, limit: int = 50) -> list[RepaymentView]:
        return [view(r) for r in self.deps.requests.list(limit)]
