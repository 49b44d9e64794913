"""Support desk pages (issue 15 item 5, part): the re-payment queue, a request's findings and audit
trail, and the approve/reject decision (reviewed on a confirmation page first: an approval charges the
customer's card), through the re-payment use cases the admin API calls."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from cardops.console.policy import Action, Resource, can, require
from cardops.console.web import BadForm, Pages, RequestView, identifier, parse_form, redirect, request_view
from cardops.payments.use_cases.repayment_views import RepaymentView
from cardops.payments.wiring import repayments

router = Router()  # type: ignore[no-untyped-call]
PAGES = Pages()
#: the queue shows the newest requests first, this many
QUEUE_SIZE = 50


def _view() -> RequestView:
    return request_view(router)


@router.get("/console/repayments")
def queue() -> Response[Any]:
    principal = _view().user
    requests = [
        r
        for r in repayments().list_requests(QUEUE_SIZE)
        if can(principal, Action.DECIDE_REPAYMENT, Resource(r.store_id))
    ]
    if not requests:  # nobody allowed to decide any store's request sees an empty queue: refuse instead
        require(principal, Action.DECIDE_REPAYMENT, Resource())
    return PAGES.render("repayments.html", _view(), requests=requests)


def _request(request_id: str) -> RepaymentView:
    found = repayments().show(identifier(request_id, "request_id"))
    require(_view().user, Action.DECIDE_REPAYMENT, Resource(store_id=found.store_id))
    return found


@router.get("/console/repayments/<request_id>")
def request_page(request_id: str) -> Response[Any]:
    found = _request(request_id)
    preview = repayments().document_preview(found.request_id)
    return PAGES.render(
        "repayment.html", _view(), request=found, preview=preview, done=_view().query.get("done")
    )


@router.post("/console/repayments/<request_id>/decision")
def decide(request_id: str) -> Response[Any]:
    """``step=confirm`` sends the decision; anything else shows what it will do and asks to confirm."""
    found = _request(request_id)
    form = parse_form(router.current_event.decoded_body)
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        raise BadForm("decision must be approve or reject")
    reason = form.get("reason", "").strip()[:500] or None
    if decision == "reject" and reason is None:
        raise BadForm("a rejection needs a reason")
    if form.get("step") != "confirm":
        return PAGES.render(
            "repayment_confirm.html", _view(), request=found, decision=decision, reason=reason
        )
    repayments().decide(found.request_id, "approve" if decision == "approve" else "reject", reason=reason,
                     actor=_view().user.actor)  # fmt: skip
    return redirect(_view().url(f"/console/repayments/{found.request_id}", done=decision))
