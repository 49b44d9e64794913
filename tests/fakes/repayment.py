"""Fakes of the re-payment ports (``payments/use_cases/repayment``): the requests store, the evidence
bucket, the workflow, the payment links, the provider's re-charge adapter and the support hook."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cardops.payments.domain.payment_notes import PaymentLink
from cardops.payments.domain.payments import PaymentFacts, PaymentMetadata
from cardops.payments.domain.repayment import CONTENT_TYPES, DocumentKind, EvidenceDocument
from cardops.payments.domain.repayment_requests import AuditEntry, RepaymentRecord, RepaymentStatus
from cardops.payments.providers.base import PermanentProviderError, ProviderPayment
from cardops.payments.providers.recharge import SavedCard
from cardops.payments.store.evidence import StoredDocument
from cardops.payments.store.repayment import AlreadyExists, StatusConflict
from cardops.payments.store.repayment_workflow import TaskGone
from cardops.payments.use_cases.repayment import RepaymentDeps, RepaymentPolicy, Repayments
from tests.fakes.payments import FakePayments, FakePublisher, FakeReservations


class FakeRepaymentRequests:
    """Requests by id: created once (``AlreadyExists``), saved only when present and, if asked, from an
    ``expected`` status (``StatusConflict``), the task token kept across saves, listed newest first."""

    def __init__(self) -> None:
        self.records: dict[str, RepaymentRecord] = {}
        self.tokens: dict[str, str] = {}
        self.trail: dict[str, list[AuditEntry]] = {}

    def create(self, record: RepaymentRecord) -> None:
        if record.request_id in self.records:
            raise AlreadyExists(record.request_id)
        self.records[record.request_id] = record

    def save(self, record: RepaymentRecord, *, expected: tuple[RepaymentStatus, ...] | None = None) -> None:
        stored = self.records.get(record.request_id)
        if stored is None or (expected and stored.status not in expected):
            raise StatusConflict(record.request_id)
        self.records[record.request_id] = record

    def set_task_token(self, request_id: str, token: str | None) -> None:
        if token is None:
            self.tokens.pop(request_id, None)
        else:
            self.tokens[request_id] = token

    def get(self, request_id: str) -> RepaymentRecord | None:
        return self.records.get(request_id)

    def get_with_token(self, request_id: str) -> tuple[RepaymentRecord, str | None] | None:
        record = self.records.get(request_id)
        return (record, self.tokens.get(request_id)) if record is not None else None

    def audit(self, request_id: str, entry: AuditEntry) -> None:
        self.trail.setdefault(request_id, []).append(entry)

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        return list(self.trail.get(request_id, []))

    def list(self, limit: int = 50) -> list[RepaymentRecord]:
        ordered = sorted(self.records.values(), key=lambda r: (r.created_at.isoformat(), r.request_id))
        return ordered[::-1][:limit]

    def steps(self, request_id: str) -> list[tuple[str, str]]:
        return [(e.step, e.result) for e in self.trail.get(request_id, [])]


class FakeEvidence:
    """Documents by key with their SHA-256; a read larger than ``max_bytes`` gives the size only."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, content: bytes, kind: DocumentKind) -> EvidenceDocument:
        self.objects[key] = content
        return EvidenceDocument(
            key=key,
            sha256=hashlib.sha256(content).hexdigest(),
            content_type=CONTENT_TYPES[kind],
            size=len(content),
        )

    def get(self, key: str, *, max_bytes: int) -> StoredDocument | None:
        content = self.objects.get(key)
        if content is None:
            return None
        sha256 = hashlib.sha256(content).hexdigest()
        if len(content) > max_bytes:
            return StoredDocument(size=len(content), content=None, sha256=sha256)
        return StoredDocument(size=len(content), content=content, sha256=sha256)


@dataclass
class FakeWorkflow:
    """Executions by name, started once; ``waiting`` holds the task tokens a step waits on."""

    arn: str = "arn:aws:states:ap-northeast-1:123456789012:stateMachine:repayment"
    executions: dict[str, dict[str, Any]] = field(default_factory=dict)
    starts: int = 0
    waiting: set[str] = field(default_factory=set)
    answered: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    histories: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)

    def execution_arn(self, name: str) -> str:
        return f"{self.arn.replace(':stateMachine:', ':execution:', 1)}:{name}"

    def start(self, name: str, payload: Mapping[str, Any]) -> None:
        self.starts += 1
        self.executions.setdefault(name, dict(payload))

    def send_success(self, token: str, output: Mapping[str, Any]) -> None:
        if token not in self.waiting:
            raise TaskGone("TaskTimedOut")
        self.waiting.discard(token)
        self.answered.append((token, dict(output)))

    def describe(self, execution_arn: str) -> Mapping[str, Any] | None:
        name = execution_arn.rsplit(":", 1)[-1]
        return {"status": "RUNNING"} if name in self.executions else None

    def history(self, execution_arn: str) -> list[Mapping[str, Any]]:
        return list(self.histories.get(execution_arn, []))


@dataclass
class FakeLinks:
    links: dict[tuple[str, str], list[PaymentLink]] = field(default_factory=dict)

    def link(self, provider: str, payment_id: str, link: PaymentLink) -> None:
        kept = self.links.setdefault((provider, payment_id), [])
        if link not in kept:
            kept.append(link)


@dataclass
class FakeRecharger:
    """A saved card and new charges; the same idempotency key answers the same charge, as providers
    do. ``captures=False``: the provider answers without capturing; ``refuse``: it declines."""

    card: SavedCard = field(
        default_factory=lambda: SavedCard(customer_id="cus_1", reusable=True, brand="visa")
    )
    captures: bool = True
    refuse: bool = False
    charges: dict[str, ProviderPayment] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def saved_card(self, original_payment_id: str) -> SavedCard:
        return self.card

    def charge(
        self,
        *,
        customer_id: str,
        amount: int,
        currency: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
        payment_method_id: str | None = None,
    ) -> ProviderPayment:
        self.calls.append({"customer_id": customer_id, "amount": amount, "idempotency_key": idempotency_key})
        if self.refuse:
            raise PermanentProviderError("card declined", code="card_declined")
        if idempotency_key not in self.charges:
            self.charges[idempotency_key] = ProviderPayment(
                provider_payment_id=f"ch_new_{len(self.charges) + 1}",
                facts=PaymentFacts(
                    currency=currency.upper(),
                    authorized_amount=amount,
                    captured_amount=amount if self.captures else 0,
                ),
                metadata=PaymentMetadata(
                    store_id=metadata.get("store_id"), reservation_id=metadata.get("reservation_id")
                ),
                customer_id=customer_id,
            )
        return self.charges[idempotency_key]


@dataclass
class FakeCaseOpener:
    opened: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **case: Any) -> object:
        self.opened.append(case)
        return None


@dataclass
class RepaymentWorld:
    """The re-payment use cases on fakes, with the fakes at hand; ``now`` is the clock they read."""

    now: datetime
    requests: FakeRepaymentRequests = field(default_factory=FakeRepaymentRequests)
    payments: FakePayments = field(default_factory=FakePayments)
    reservations: FakeReservations = field(default_factory=FakeReservations)
    links: FakeLinks = field(default_factory=FakeLinks)
    evidence: FakeEvidence = field(default_factory=FakeEvidence)
    workflow: FakeWorkflow = field(default_factory=FakeWorkflow)
    events: FakePublisher = field(default_factory=FakePublisher)
    recharger: FakeRecharger | None = field(default_factory=FakeRecharger)
    cases: FakeCaseOpener = field(default_factory=FakeCaseOpener)
    mit_brands: frozenset[str] = frozenset({"visa", "mastercard"})

    def repayments(self) -> Repayments:
        return Repayments(
            RepaymentDeps(
                requests=self.requests,
                payments=self.payments,
                reservations=self.reservations,
                links=self.links,
                evidence=self.evidence,
                workflow=self.workflow,
                events=self.events,
                rechargers=lambda provider: self.recharger,
                open_case=self.cases,
                policy=RepaymentPolicy(
                    brand_allows_mit=lambda brand: brand is not None and brand in self.mit_brands,
                    max_document_bytes=64 * 1024,
                ),
                now=lambda: self.now,
            )
        )
