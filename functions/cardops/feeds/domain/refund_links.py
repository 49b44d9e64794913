"""Linking refund lines to their original purchase (SPEC §7).

A refund line (negative amount) belongs to the purchase on the same card (last 4 digits and
linkage code) at the same merchant for the same absolute amount, made within a window before the
refund (90 days by default). Exactly one such purchase links; otherwise the candidates are listed
for an admin — several equal purchases, or, when none has the same amount, the purchases at that
merchant on that card large enough for a partial refund. A purchase is linked to one refund only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cardops.feeds.domain.models import StatementLine
from cardops.feeds.domain.normalize import fold_width

DEFAULT_WINDOW = timedelta(days=90)

RefundLinkStatus = Literal["linked", "ambiguous", "unmatched"]


class RefundLink(BaseModel):
    """The outcome for one refund line: its purchase, or the candidates an admin chooses from."""

    model_config = ConfigDict(frozen=True)

    refund_line_id: str
    status: RefundLinkStatus
    purchase_line_id: str | None = None
    candidate_line_ids: tuple[str, ...] = ()


def merchant_key(merchant: str) -> str:
    """Merchant names compared without width, case or spacing differences."""
    return "".join(fold_width(merchant).upper().split())


def card_key(line: StatementLine) -> tuple[str, str, str, str]:
    """What a refund and its purchase share: the card (company, linkage code, last 4) and merchant."""
    return (line.card_company, line.linkage_code, line.last4 or "", merchant_key(line.merchant))


def link_refunds(
    lines: Iterable[StatementLine],
    *,
    window: timedelta = DEFAULT_WINDOW,
    already_linked: Iterable[str] = (),
) -> list[RefundLink]:
    """A link (or candidates) for every refund among ``lines``, oldest refund first.

    ``lines`` holds the refunds to place and the purchases they may belong to (e.g. the tenant's
    lines of the last window). ``already_linked`` names purchases an earlier run linked already.
    """
    purchases: dict[tuple[str, str, str, str], list[StatementLine]] = defaultdict(list)
    refunds: list[StatementLine] = []
    for line in lines:
        if line.amount < 0:
            refunds.append(line)
        elif line.amount > 0:
            purchases[card_key(line)].append(line)
    taken = set(already_linked)
    results: list[RefundLink] = []
    for refund in sorted(refunds, key=lambda r: (r.usage_date, r.line_id)):
        earliest = refund.usage_date - window
        in_window = [
            p
            for p in purchases.get(card_key(refund), ())
            if earliest <= p.usage_date <= refund.usage_date and p.line_id not in taken
        ]
        same_amount = sorted(
            (p for p in in_window if p.amount == -refund.amount), key=lambda p: (p.usage_date, p.line_id)
        )
        if len(same_amount) == 1:
            taken.add(same_amount[0].line_id)
            results.append(
                RefundLink(
                    refund_line_id=refund.line_id, status="linked", purchase_line_id=same_amount[0].line_id
                )
            )
            continue
        if same_amount:
            candidates = same_amount
            status: RefundLinkStatus = "ambiguous"
        else:
            candidates = sorted(
                (p for p in in_window if p.amount > -refund.amount), key=lambda p: (p.usage_date, p.line_id)
            )
            status = "unmatched"
        results.append(
            RefundLink(
                refund_line_id=refund.line_id,
                status=status,
                candidate_line_ids=tuple(p.line_id for p in candidates),
            )
        )
    return results
