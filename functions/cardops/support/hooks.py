"""How other slices open support cases automatically: one call each, at the one place the event happens.

| event                                  | called from                                        |
| -------------------------------------- | -------------------------------------------------- |
| an automatic refund failed             | ``handlers/capture_deadline.py`` (escalate step)   |
| the card company rejected a refund     | ``payments/wiring.publish_alerts``                 |
| a re-payment request was made          | ``payments/use_cases/repayment.Repayments.start`` |
| a feed diagnosis found a registration error | ``feeds/use_cases/card_lines.CardLines.diagnose`` |

Each source opens one case however often it calls (the case id comes from the source). A hook never
fails its caller: the business event already happened and is recorded where it belongs, so a case
that cannot be opened is logged as an error (``support case not opened``) for an operator instead.
A function without ``SUPPORT_CASE_STATE_MACHINE_ARN`` (support not wired to it) opens nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from cardops.feeds.domain.matching import REASON_CODES
from cardops.kernel import clock
from cardops.kernel.observability import make_logger
from cardops.payments.domain.payments import Payment
from cardops.support.domain.cases import CaseDraft, Category, Subject
from cardops.support.use_cases import SubjectError, open_case

logger = make_logger("cardops-support-hooks")

#: diagnosis outcomes that are registration errors an admin fixes (employee master or tenant): every
#: reason the feed matching names
REGISTRATION_REASONS: frozenset[str] = frozenset(REASON_CODES)
#: the longest summary a case holds (``CaseDraft.summary``)
MAX_SUMMARY = 2000


def _open(build: Callable[[], CaseDraft], actor: str, payment: Payment | None = None) -> str | None:
    from cardops.kernel.config import settings
    from cardops.support.wiring import support_deps

    if not settings().support_case_state_machine_arn:
        return None  # support is not wired to this function (a test of another slice, a tool)
    draft: CaseDraft | None = None
    try:
        draft = build()
        deps = support_deps()
        try:
            return open_case(deps, draft, actor=actor, now=clock.now(), payment=payment).case_id
        except SubjectError:
            # the payment the source named is not this store's (or unknown): keep the case, without it
            subject = draft.subject.model_copy(update={"provider": None, "provider_payment_id": None})
            summary = f"{draft.summary} (payment reference not confirmed)"[:MAX_SUMMARY]
            return open_case(
                deps,
                draft.model_copy(update={"subject": subject, "summary": summary}),
                actor=actor,
                now=clock.now(),
            ).case_id
    except Exception as exc:
        source = draft.source if draft is not None else None
        logger.exception("support case not opened", source=source, error=exc.__class__.__name__)
        return None


def _automatic(category: Category, summary: str, subject: Subject, source: str) -> CaseDraft:
    """A case the system opens: its summary cut to what a case holds."""
    return CaseDraft(
        category=category, summary=summary[:MAX_SUMMARY], channel="automatic", subject=subject, source=source
    )


def _payment_subject(provider: str, payment_id: str, **other: str | None) -> Subject:
    """The payment with the store it belongs to (read from the payment), or the other references alone."""
    from cardops.support.wiring import support_deps

    payment = support_deps().payments.payment(provider, payment_id)
    store_id = payment.metadata.store_id if payment is not None else None
    if store_id:
        return Subject.model_validate(
            {"store_id": store_id, "provider": provider, "provider_payment_id": payment_id, **other}
        )
    return Subject.model_validate({"store_id": "unknown", **other})


def auto_refund_failed(provider: str, payment_id: str, *, error: str) -> str | None:
    """The capture-deadline workflow could not cancel the authorization at the provider."""
    return _open(
        lambda: _automatic(
            Category.AUTO_REFUND_FAILED,
            f"automatic refund of {provider}/{payment_id} at the capture deadline failed: {error}",
            _payment_subject(provider, payment_id),
            f"auto-refund-failed:{provider}:{payment_id}",
        ),
        "cardops:capture-deadline",
    )


def refund_rejected(
    *,
    refund_id: str,
    provider: str,
    payment_id: str,
    store_id: str,
    amount: int,
    currency: str,
    detail: str,
    payment: Payment | None = None,
) -> str | None:
    """The card company rejected a refund; it was reversed and finance alerted. ``payment``: the
    refund's payment when the caller holds it (a change-feed listener): not read again."""
    return _open(
        lambda: _automatic(
            Category.REFUND_REJECTED,
            f"refund {refund_id} of {amount} {currency} was rejected by the card company: {detail}",
            Subject.model_validate(
                {"store_id": store_id, "provider": provider, "provider_payment_id": payment_id}
            ),
            f"refund-rejected:{refund_id}",
        ),
        "cardops:refunds",
        payment,
    )


def repayment_requested(
    *, request_id: str, provider: str, payment_id: str, store_id: str, reservation_id: str | None, actor: str
) -> str | None:
    """The support desk started a re-payment request (the customer's consent is under review)."""
    return _open(
        lambda: _automatic(
            Category.REPAYMENT,
            f"re-payment request {request_id} for {provider}/{payment_id}",
            Subject.model_validate(
                {
                    "store_id": store_id,
                    "provider": provider,
                    "provider_payment_id": payment_id,
                    "reservation_id": reservation_id,
                }
            ),
            f"repayment:{request_id}",
        ),
        actor,
    )


def card_feed_diagnosed(
    *,
    tenant_id: str,
    employee_code: str,
    usage_date: date,
    cause: str,
    reason: str | None,
    message: str,
) -> str | None:
    """A diagnosis ("I paid by card but cannot select the line") found a registration error."""
    found = reason if reason in REGISTRATION_REASONS else cause if cause in REGISTRATION_REASONS else None
    if found is None:
        return None
    return _open(
        lambda: _automatic(
            Category.CARD_FEED,
            f"{found}: employee {employee_code}, card line of {usage_date.isoformat()}: {message}",
            Subject.model_validate(
                {"tenant_id": tenant_id, "card_line": f"{tenant_id}/{employee_code}/{usage_date.isoformat()}"}
            ),
            f"card-feed:{tenant_id}:{employee_code}:{found}",
        ),
        "cardops:feed-diagnosis",
    )
