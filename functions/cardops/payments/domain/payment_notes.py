"""What is known about a payment besides its lifecycle: notices sent about it, and re-payment links.

Neither changes the payment's status or version, so neither is a history entry (history records
status moves, one per version). They are kept beside the payment so the payment view can show,
without opening Step Functions, which reminders the store got before the capture deadline
(SPEC §3) and which payment a re-payment replaced, or replaced this one (SPEC §4).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NoticeKind = Literal["capture_reminder", "expired_refunded"]
LinkRelation = Literal["repayment_of", "repaid_by"]


class Notice(BaseModel):
    """A notification published about the payment, once per ``event_key`` (retries publish again)."""

    model_config = ConfigDict(frozen=True)

    kind: NoticeKind
    audience: Literal["store", "customer"]
    at: datetime
    event_key: str = Field(min_length=1, max_length=255)
    hours_before: int | None = None
    capture_deadline: datetime | None = None


class PaymentLink(BaseModel):
    """``repayment_of``: this payment re-charges that one; ``repaid_by``: that one re-charged this."""

    model_config = ConfigDict(frozen=True)

    relation: LinkRelation
    provider: str
    provider_payment_id: str
    request_id: str
    at: datetime


class PaymentNotes(BaseModel):
    model_config = ConfigDict(frozen=True)

    notices: tuple[Notice, ...] = ()
    links: tuple[PaymentLink, ...] = ()


def repayment_links(
    *, provider: str, original_id: str, new_id: str, request_id: str, at: datetime
) -> list[tuple[str, PaymentLink]]:
    """Both directions of a re-payment: (payment id, the link kept on it), new payment first."""

    def link(relation: LinkRelation, other: str) -> PaymentLink:
        return PaymentLink(
            relation=relation, provider=provider, provider_payment_id=other, request_id=request_id, at=at
        )

    return [(new_id, link("repayment_of", original_id)), (original_id, link("repaid_by", new_id))]
