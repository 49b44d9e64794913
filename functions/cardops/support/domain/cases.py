"""A support case and its transitions (issue 16): every change is an immutable history entry.

A case is opened by the support desk or automatically (a failed automatic refund, a rejected refund,
a re-payment request, a card-feed registration error), about a payment, reservation, store, tenant
or card line. It is acknowledged, then resolved; it can never be resolved unacknowledged. A
complaint from a public body (regulator, consumer agency, litigation: UDAP, discrimination, consumer
harm, legal concerns) is reported to the card program within one business day and opens with a
*contact hold*: no customer-contact action (contacting the customer, resolving — the resolution is
told to the customer) is allowed until the program confirms the complaint and the hold is released.

Transitions are pure: they take the case, the actor and ``now`` and return the new case (version
+1) with its history entry, or raise a ``CaseError`` that says why not.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cardops.support.domain.sla import (
    DEFAULT_POLICY,
    Firing,
    FiringKind,
    SlaPolicy,
    Timer,
    due_at,
    reminder_at,
)

_ID = r"^[A-Za-z0-9_.:-]{1,128}$"


class Category(StrEnum):
    """What a case is about. The ``public_body_*`` ones are the seed's 行政機関による苦情."""

    AUTHORIZATION = "authorization"  # declined or pending authorization (オーソリ)
    MISSING_REFUND = "missing_refund"  # 返金の欠落
    DISPUTE = "dispute"  # 不審請求の申請
    AUTO_REFUND_FAILED = "auto_refund_failed"  # the capture-deadline cancel failed
    REFUND_REJECTED = "refund_rejected"  # the card company rejected a refund
    REPAYMENT = "repayment"  # 再決済 request
    CARD_FEED = "card_feed"  # a card-feed registration error
    FEES_PAYOUTS = "fees_payouts"
    SERVICE = "service"  # the service itself (業務関連の苦情)
    OTHER = "other"
    PUBLIC_BODY_UDAP = "public_body_udap"  # unfair or deceptive acts or practices
    PUBLIC_BODY_DISCRIMINATION = "public_body_discrimination"
    PUBLIC_BODY_CONSUMER_HARM = "public_body_consumer_harm"
    PUBLIC_BODY_LEGAL = "public_body_legal"

    @property
    def public_body(self) -> bool:
        return self.value.startswith("public_body_")


class CaseStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


Channel = Literal["phone", "email", "web", "letter", "automatic"]

#: who an escalation goes to, in order (a public-body complaint goes further)
ESCALATION_PATH: dict[bool, tuple[str, ...]] = {
    False: ("support_lead",),
    True: ("support_lead", "compliance", "card_program"),
}


class Subject(BaseModel):
    """What the case is about; at least one reference. A payment is named with its store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_id: str | None = Field(default=None, pattern=_ID)
    provider: Literal["payjp", "stripe", "sbps", "sandbox"] | None = None
    provider_payment_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_:-]{1,255}$")
    reservation_id: str | None = Field(default=None, pattern=_ID)
    tenant_id: str | None = Field(default=None, pattern=_ID)
    card_line: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:#/-]{1,255}$")

    @model_validator(mode="after")
    def _consistent(self) -> Subject:
        if (self.provider is None) != (self.provider_payment_id is None):
            raise ValueError("a payment is named by provider and provider_payment_id together")
        if self.provider_payment_id is not None and self.store_id is None:
            raise ValueError("a case about a payment names the store it is for (store_id)")
        if not any(self.model_dump().values()):
            raise ValueError(
                "name what the case is about: store_id, a payment, reservation_id, tenant_id or card_line"
            )
        return self

    @property
    def payment(self) -> tuple[str, str] | None:
        if self.provider is None or self.provider_payment_id is None:
            return None
        return self.provider, self.provider_payment_id


class CaseHistoryEntry(BaseModel):
    """One immutable line of a case's history: who, when, what, from, to."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    actor: str
    action: str
    from_status: CaseStatus | None
    to_status: CaseStatus
    note: str = ""


class Case(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str = Field(pattern=_ID)
    category: Category
    summary: str = Field(min_length=1, max_length=2000)
    channel: Channel
    subject: Subject
    #: the automatic source that opened it (``None`` for the support desk): one case per source
    source: str | None = None
    status: CaseStatus = CaseStatus.OPEN
    version: int = Field(ge=1)
    opened_at: datetime
    opened_by: str
    updated_at: datetime
    #: SLA due moments, fixed when the case opened (a later policy change does not move them)
    due: dict[Timer, datetime]
    reminder_at: dict[Timer, datetime]
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    reported_at: datetime | None = None
    reported_by: str | None = None
    contact_hold: bool = False
    hold_released_at: datetime | None = None
    hold_released_by: str | None = None
    contacts: int = 0
    #: timer events already handled (``reminder:ack``, ``escalation:resolve`` …)
    fired: tuple[str, ...] = ()
    escalated_to: tuple[str, ...] = ()

    @field_validator("opened_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value

    @property
    def public_body(self) -> bool:
        return self.category.public_body

    @property
    def closed(self) -> bool:
        return self.status is CaseStatus.RESOLVED

    def done_at(self, timer: Timer) -> datetime | None:
        """When the action the timer waits for happened (``None`` while it has not)."""
        return {
            Timer.ACK: self.acknowledged_at,
            Timer.RESOLVE: self.resolved_at,
            Timer.REPORT: self.reported_at,
        }[timer]

    def open_timers(self) -> tuple[Timer, ...]:
        return tuple(t for t in self.due if self.done_at(t) is None)

    def sla_state(self, timer: Timer, now: datetime) -> Literal["met", "missed", "pending"]:
        done = self.done_at(timer)
        due = self.due[timer]
        if done is not None:
            return "met" if done <= due else "missed"
        return "missed" if now > due else "pending"


class CaseError(ValueError):
    """A transition the case's state does not allow; ``code`` names the rule for the API."""

    code = "invalid_transition"


class CaseClosedError(CaseError):
    code = "case_closed"

    def __init__(self, case: Case) -> None:
        super().__init__(f"case {case.case_id} is resolved; open a new case instead")


class NotAcknowledgedError(CaseError):
    code = "not_acknowledged"

    def __init__(self, case: Case) -> None:
        super().__init__(f"case {case.case_id} is not acknowledged: acknowledge it before resolving it")


class ContactHoldError(CaseError):
    """Seed 002: after a public-body complaint, no contact with the customer until the program confirms."""

    code = "contact_hold"

    def __init__(self, case: Case, action: str) -> None:
        super().__init__(
            f"case {case.case_id} is a public-body complaint under a contact hold: {action} is a "
            "customer contact and is refused until the card program confirms the complaint and the hold "
            "is released (cardops cases release-hold)"
        )


class NotPublicBodyError(CaseError):
    code = "not_public_body"

    def __init__(self, case: Case, action: str) -> None:
        super().__init__(f"case {case.case_id} is not a public-body complaint: nothing to {action}")


class NotReportedError(CaseError):
    code = "not_reported"

    def __init__(self, case: Case) -> None:
        super().__init__(
            f"case {case.case_id} has not been reported to the card program yet: report it, then release "
            "the hold once the program confirms"
        )


class AlreadyDoneError(CaseError):
    code = "already_done"

    def __init__(self, case: Case, what: str) -> None:
        super().__init__(f"case {case.case_id} is already {what}")


def case_id_for_source(source: str) -> str:
    """The id of the one case an automatic source opens (a repeated hook finds the same case)."""
    return "case-" + hashlib.sha256(source.encode()).hexdigest()[:20]


class CaseDraft(BaseModel):
    """What opening a case needs, from the desk or a hook."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: Category
    summary: str = Field(min_length=1, max_length=2000)
    channel: Channel = "phone"
    subject: Subject
    source: str | None = Field(default=None, max_length=500)


def open_case(
    draft: CaseDraft,
    *,
    case_id: str,
    actor: str,
    now: datetime,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> tuple[Case, CaseHistoryEntry]:
    timers = (Timer.ACK, Timer.RESOLVE) + ((Timer.REPORT,) if draft.category.public_body else ())
    due = {timer: due_at(now, timer, policy) for timer in timers}
    case = Case(
        case_id=case_id,
        category=draft.category,
        summary=draft.summary,
        channel=draft.channel,
        subject=draft.subject,
        source=draft.source,
        version=1,
        opened_at=now,
        opened_by=actor,
        updated_at=now,
        due=due,
        reminder_at={timer: reminder_at(now, at, policy) for timer, at in due.items()},
        contact_hold=draft.category.public_body,
    )
    note = f"{draft.category.value}: due " + ", ".join(f"{t.value} {at.isoformat()}" for t, at in due.items())
    if case.contact_hold:
        note += "; contact hold until the card program confirms"
    return case, _entry(case, None, "open", actor, now, note)


def _entry(
    case: Case, before: CaseStatus | None, action: str, actor: str, now: datetime, note: str = ""
) -> CaseHistoryEntry:
    return CaseHistoryEntry(
        seq=case.version,
        at=now,
        actor=actor,
        action=action,
        from_status=before,
        to_status=case.status,
        note=note,
    )


def _next(
    case: Case, action: str, actor: str, now: datetime, note: str = "", **changes: object
) -> tuple[Case, CaseHistoryEntry]:
    updated = case.model_copy(update={**changes, "version": case.version + 1, "updated_at": now})
    return updated, _entry(updated, case.status, action, actor, now, note)


def _open_only(case: Case) -> None:
    if case.closed:
        raise CaseClosedError(case)


def acknowledge(case: Case, *, actor: str, now: datetime, note: str = "") -> tuple[Case, CaseHistoryEntry]:
    _open_only(case)
    if case.acknowledged_at is not None:
        raise AlreadyDoneError(case, "acknowledged")
    return _next(
        case,
        "acknowledge",
        actor,
        now,
        note,
        status=CaseStatus.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=actor,
    )


def report_to_program(
    case: Case, *, actor: str, now: datetime, note: str = ""
) -> tuple[Case, CaseHistoryEntry]:
    """The public-body complaint was reported to the card program (seed: within 1 business day)."""
    _open_only(case)
    if not case.public_body:
        raise NotPublicBodyError(case, "report")
    if case.reported_at is not None:
        raise AlreadyDoneError(case, "reported to the card program")
    return _next(case, "report", actor, now, note, reported_at=now, reported_by=actor)


def release_hold(case: Case, *, actor: str, now: datetime, note: str = "") -> tuple[Case, CaseHistoryEntry]:
    """The card program confirmed the complaint: customer contact is allowed again."""
    _open_only(case)
    if not case.public_body:
        raise NotPublicBodyError(case, "release")
    if not case.contact_hold:
        raise AlreadyDoneError(case, "released from its contact hold")
    if case.reported_at is None:
        raise NotReportedError(case)
    return _next(
        case,
        "release_hold",
        actor,
        now,
        note,
        contact_hold=False,
        hold_released_at=now,
        hold_released_by=actor,
    )


def require_contact_allowed(case: Case, action: str) -> None:
    """Raises while the case holds customer contact (the API refuses every customer-contact action)."""
    if case.contact_hold:
        raise ContactHoldError(case, action)


def record_contact(case: Case, *, actor: str, now: datetime, note: str = "") -> tuple[Case, CaseHistoryEntry]:
    """A contact with the customer (call, e-mail) about the case."""
    _open_only(case)
    require_contact_allowed(case, "contacting the customer")
    return _next(case, "contact", actor, now, note, contacts=case.contacts + 1)


def resolve(case: Case, *, actor: str, now: datetime, resolution: str) -> tuple[Case, CaseHistoryEntry]:
    """Close the case. Never without acknowledgement; never under a contact hold (the customer is told)."""
    _open_only(case)
    if case.acknowledged_at is None:
        raise NotAcknowledgedError(case)
    require_contact_allowed(case, "resolving (the resolution is told to the customer)")
    return _next(
        case,
        "resolve",
        actor,
        now,
        resolution,
        status=CaseStatus.RESOLVED,
        resolved_at=now,
        resolved_by=actor,
        resolution=resolution,
    )


def fire(case: Case, firing: Firing, *, actor: str, now: datetime) -> tuple[Case, CaseHistoryEntry] | None:
    """A reminder or an escalation, once; ``None`` when it is moot (done, fired, closed, not yet due)."""
    if case.closed or firing.key in case.fired or now < firing.at or case.done_at(firing.timer) is not None:
        return None
    due = case.due[firing.timer].isoformat()
    if firing.kind is FiringKind.REMINDER:
        return _next(
            case, "remind", actor, now, f"{firing.timer.value} due {due}", fired=(*case.fired, firing.key)
        )
    path = ESCALATION_PATH[case.public_body]
    step = min(len(case.escalated_to), len(path) - 1)
    to = path[step]
    return _next(
        case,
        "escalate",
        actor,
        now,
        f"{firing.timer.value} missed (due {due}); escalated to {to}",
        fired=(*case.fired, firing.key),
        escalated_to=(*case.escalated_to, to),
    )


def next_firing(case: Case) -> Firing | None:
    """The case's next timer event not yet handled: what its workflow waits for (``None``: nothing)."""
    if case.closed:
        return None
    pending = [
        firing
        for timer in case.open_timers()
        for firing in (
            Firing(timer=timer, kind=FiringKind.REMINDER, at=case.reminder_at[timer]),
            Firing(timer=timer, kind=FiringKind.ESCALATION, at=case.due[timer]),
        )
        if firing.key not in case.fired
    ]
    return min(pending, key=lambda f: (f.at, f.kind is FiringKind.ESCALATION, f.timer.value), default=None)
