"""Finance pages (issue 15 item 1, finance): negative balances across stores with the shortfall,
refunds the card company rejected (and what was reversed), and the operator queue of automatic
refunds that failed, with its actions (retry the refund, resolve with a note).

They read and act through the use cases the admin API calls (``ledger.wiring.finance_desk``,
``support.use_cases``, ``payments.use_cases.capture.expire``); every page is finance's alone and
every change records the console user as its actor.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from cardops.console.policy import Action, Resource, require
from cardops.console.web import BadForm, Pages, RequestView, identifier, parse_form, redirect, request_view
from cardops.kernel import clock
from cardops.ledger.wiring import finance_desk
from cardops.payments.use_cases import capture
from cardops.payments.wiring import capture_deps
from cardops.support import use_cases as cases
from cardops.support.wiring import support_deps

router = Router()  # type: ignore[no-untyped-call]
PAGES = Pages()
#: the refund rejections shown (newest first)
REJECTIONS_SHOWN = 50
#: what a resolution note may hold (``Case.resolution``)
MAX_NOTE = 2000


def _view() -> RequestView:
    return request_view(router)


def _finance() -> RequestView:
    """The request's view, after the policy allowed finance's desk (cross-store: no store scope)."""
    view = _view()
    require(view.user, Action.FINANCE_DESK, Resource())
    return view


@router.get("/console/finance/negative-balances")
def negative_balances() -> Response[Any]:
    view = _finance()
    now = clock.now()
    return PAGES.render(
        "finance_negative.html", view, ledgers=finance_desk().negative_balances(now=now), now=now
    )


@router.get("/console/finance/refund-rejections")
def refund_rejections() -> Response[Any]:
    view = _finance()
    return PAGES.render(
        "finance_rejections.html", view, alerts=finance_desk().refund_rejections(limit=REJECTIONS_SHOWN)
    )


@router.get("/console/finance/operator-queue")
def operator_queue() -> Response[Any]:
    view = _finance()
    return PAGES.render(
        "operator_queue.html",
        view,
        cases=cases.operator_queue(support_deps()),
        done=view.query.get("done"),
        outcome=view.query.get("outcome"),
    )


def _retry(provider: str, payment_id: str) -> str:
    """The capture-deadline step, by the signed-in user: its outcome."""
    result = capture.expire(capture_deps(), provider, payment_id, now=clock.now(), actor=_view().user.actor)
    return str(result["outcome"])


@router.post("/console/finance/operator-queue/<case_id>/retry")
def retry(case_id: str) -> Response[Any]:
    view = _finance()
    outcome, _ = cases.retry_auto_refund(
        support_deps(), identifier(case_id, "case_id"), _retry, actor=view.user.actor, now=clock.now()
    )
    return redirect(view.url("/console/finance/operator-queue", done="retry", outcome=outcome))


@router.post("/console/finance/operator-queue/<case_id>/resolve")
def resolve(case_id: str) -> Response[Any]:
    view = _finance()
    note = parse_form(router.current_event.decoded_body).get("note", "").strip()
    if not note:
        raise BadForm("note is required: say what was done")
    cases.settle(
        support_deps(), identifier(case_id, "case_id"), actor=view.user.actor, now=clock.now(),
        resolution=note[:MAX_NOTE],
    )  # fmt: skip
    return redirect(view.url("/console/finance/operator-queue", done="resolve"))
