"""The store pages (issue 15): dashboard, uncaptured sales, a payment's timeline, capture and refund
with a confirmation step, balance, statement and payout request.

Each page reads the record first, then asks the policy about the store that record belongs to, so
a store admin who types another store's payment id gets the 403 page and nothing of it. Changes go
through the same use cases as the admin API, with the console user as the actor.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from cardops.console.policy import Action, Group, Resource, can, home_store, require
from cardops.console.web import (
    BadForm,
    Pages,
    RequestView,
    choice,
    identifier,
    optional_amount,
    parse_form,
    redirect,
    request_view,
    signed_amount,
)
from cardops.kernel import clock
from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT
from cardops.ledger.domain.ledger import AdjustmentReason, Channel
from cardops.ledger.domain.statement import Order
from cardops.ledger.wiring import ledger_service
from cardops.payments.domain.payments import Payment
from cardops.payments.domain.refunds import RefundReason
from cardops.payments.providers import registry
from cardops.payments.routes.views import PaymentView, payment_view
from cardops.payments.use_cases import capture
from cardops.payments.wiring import capture_deps, payment_records, refund_service

router = Router()  # type: ignore[no-untyped-call]
PAGES = Pages()
#: entries per statement page (newest first)
STATEMENT_PAGE_SIZE = 50
#: the dashboard's "nearest deadlines"
NEAREST = 5


class PageNotFound(NotFoundError):
    """No such page or record (the 404 page)."""


def _view() -> RequestView:
    return request_view(router)


def _render(name: str, status: HTTPStatus = HTTPStatus.OK, **values: Any) -> Response[Any]:
    return PAGES.render(name, _view(), status, **values)


# -- deadlines -------------------------------------------------------------------------------------


def badge(deadline: datetime | None, now: datetime) -> str:
    """How urgent a capture is: the reminders' own offsets (72 h, 24 h) mark the steps."""
    if deadline is None:
        return "ok"
    left = deadline - now
    if left <= timedelta(0):
        return "overdue"
    if left <= timedelta(hours=24):
        return "today"
    if left <= timedelta(hours=72):
        return "soon"
    return "ok"


def _uncaptured(store_id: str) -> list[Payment]:
    # the admin API's list (``GET /admin/stores/{id}/uncaptured``): earliest deadline first
    return payment_records().uncaptured(store_id)


# -- home and dashboard ----------------------------------------------------------------------------


def home(view: RequestView) -> Response[Any]:
    """Where a user lands: a store admin on its store, support and finance on the store picker."""
    principal = view.user
    store = home_store(principal)
    if Group.STORE_ADMIN in principal.groups and store is not None:
        return redirect(view.url(f"/console/stores/{store}"))
    cross_store = bool({Group.SUPPORT, Group.FINANCE} & principal.groups)
    return PAGES.render(
        "home.html",
        view,
        cross_store=cross_store,
        stores=sorted(principal.store_ids),
        tenant=principal.tenant_id if Group.TENANT_ADMIN in principal.groups else None,
        employee=Group.EMPLOYEE in principal.groups and principal.employee_code is not None,
        repayments=Group.SUPPORT in principal.groups,
        finance=Group.FINANCE in principal.groups,
    )


@router.get("/console/stores/go")
def open_store() -> Response[Any]:
    view = _view()
    store_id = identifier(view.query.get("store_id"), "store_id")
    return redirect(view.url(f"/console/stores/{store_id}"))


@router.get("/console/stores/<store_id>")
def dashboard(store_id: str) -> Response[Any]:
    store_id = identifier(store_id, "store_id")
    view = _view()
    require(view.user, Action.VIEW_STORE, Resource(store_id=store_id))
    now = clock.now()
    payments = _uncaptured(store_id)
    return _render(
        "dashboard.html", store_id=store_id, count=len(payments), rows=_rows(payments[:NEAREST], now), now=now
    )


@router.get("/console/stores/<store_id>/uncaptured")
def uncaptured(store_id: str) -> Response[Any]:
    store_id = identifier(store_id, "store_id")
    require(_view().user, Action.VIEW_STORE, Resource(store_id=store_id))
    now = clock.now()
    payments = _uncaptured(store_id)
    return _render("uncaptured.html", store_id=store_id, count=len(payments), rows=_rows(payments, now))


def _rows(payments: list[Payment], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "provider": p.provider,
            "payment_id": p.provider_payment_id,
            "amount": p.facts.amount,
            "currency": p.facts.currency,
            "deadline": p.capture_deadline,
            "bound": p.deadline_bound,
            "badge": badge(p.capture_deadline, now),
            "reservation_id": p.metadata.reservation_id,
            "visit_date": p.metadata.visit_date,
        }
        for p in payments
    ]


# -- a payment ---------------------------------------------------------------------------------------


def _payment(provider: str, payment_id: str, action: Action) -> PaymentView:
    """The payment as the admin API shows it, after the policy allowed ``action`` on its store."""
    if provider not in (*registry.names(), registry.STAND_IN):  # the admin API's payment routes' set
        raise PageNotFound(f"no provider {provider}")
    payment_id = identifier(payment_id, "payment id")
    found = payment_records().detail(provider, payment_id)
    if found is None:
        raise PageNotFound(f"payment {provider}/{payment_id} not found")
    # checked on the record's own store: the id in the URL says nothing about whose it is
    require(_view().user, action, Resource(store_id=found.payment.metadata.store_id))
    return payment_view(found.payment, found.history, found.notes)


@router.get("/console/payments/<provider>/<payment_id>")
def payment_page(provider: str, payment_id: str) -> Response[Any]:
    payment = _payment(provider, payment_id, Action.VIEW_STORE)
    service = refund_service()
    refunds = service.of_payment(provider, payment.provider_payment_id)
    # the refund ceiling exists from the first refund on; before it, all that was captured and not
    # refunded at the provider (the use case enforces the ceiling either way)
    ceiling = service.refunds.remaining(provider, payment.provider_payment_id)
    refundable_states = {"captured", "partially_refunded"}
    remaining = (
        (ceiling if ceiling is not None else payment.captured_amount - payment.refunded_amount)
        if payment.status in refundable_states
        else 0
    )
    view = _view()
    principal = view.user
    scope = Resource(store_id=payment.store_id)
    return _render(
        "payment.html",
        payment=payment,
        refunds=refunds,
        remaining=remaining,
        reasons=list(RefundReason),
        can_capture=payment.status == "authorized" and can(principal, Action.CAPTURE, scope),
        can_refund=remaining > 0 and can(principal, Action.REFUND, scope),
        done=view.query.get("done"),
        badge=badge(payment.capture_deadline, clock.now()),
    )


@router.post("/console/payments/<provider>/<payment_id>/capture")
def capture_payment(provider: str, payment_id: str) -> Response[Any]:
    """``step=review`` shows what will happen; ``step=confirm`` captures (the confirmation step)."""
    payment = _payment(provider, payment_id, Action.CAPTURE)
    form = parse_form(router.current_event.decoded_body)
    authorized = payment.authorized_amount or payment.amount
    amount = optional_amount(form.get("amount"), "amount", maximum=MAX_PLAUSIBLE_AMOUNT)
    if form.get("step") != "confirm":
        return _render("capture_confirm.html", payment=payment, amount=amount, total=amount or authorized)
    capture.capture(
        capture_deps(),
        provider,
        payment.provider_payment_id,
        amount=amount,
        now=clock.now(),
        actor=_view().user.actor,
    )
    return redirect(
        _view().url(f"/console/payments/{provider}/{payment.provider_payment_id}", done="capture")
    )


@router.post("/console/payments/<provider>/<payment_id>/refunds")
def refund_payment(provider: str, payment_id: str) -> Response[Any]:
    payment = _payment(provider, payment_id, Action.REFUND)
    form = parse_form(router.current_event.decoded_body)
    amount = optional_amount(form.get("amount"), "amount", maximum=MAX_PLAUSIBLE_AMOUNT)
    if amount is None:
        raise BadForm("amount is required")
    reason = choice(form.get("reason"), RefundReason, "reason is not one of the listed reasons")
    note = form.get("note", "").strip()[:500]
    if form.get("step") != "confirm":
        # the key is fixed at review, so a double-submitted confirmation refunds once
        key = f"console-{uuid.uuid4().hex}"
        return _render(
            "refund_confirm.html", payment=payment, amount=amount, reason=reason, note=note, key=key
        )
    key = identifier(form.get("idempotency_key"), "idempotency_key")
    refund_service().request(
        provider,
        payment.provider_payment_id,
        amount=amount,
        reason=reason,
        idempotency_key=key,
        note=note,
        now=clock.now(),
        actor=_view().user.actor,
    )
    return redirect(_view().url(f"/console/payments/{provider}/{payment.provider_payment_id}", done="refund"))


# -- the ledger ------------------------------------------------------------------------------------


def _channel(value: str | None) -> Channel:
    return choice(value or Channel.STANDARD.value, Channel, "channel is not a payment channel")


def _currency(value: str | None) -> str:
    code = (value or "JPY").upper()
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise BadForm("currency must be a three-letter code")
    return code


@router.get("/console/stores/<store_id>/balance")
def balance(store_id: str) -> Response[Any]:
    store_id = identifier(store_id, "store_id")
    require(_view().user, Action.VIEW_LEDGER, Resource(store_id=store_id))
    now = clock.now()
    ledgers = ledger_service().balances(store_id, now=now)
    return _render(
        "balance.html",
        store_id=store_id,
        ledgers=ledgers,
        now=now,
        can_adjust=can(_view().user, Action.ADJUST, Resource(store_id=store_id)),
        reasons=list(AdjustmentReason),
        channels=list(Channel),
        done=_view().query.get("done"),
    )


@router.post("/console/stores/<store_id>/adjustments")
def adjust(store_id: str) -> Response[Any]:
    """Finance's adjustment with a reason code: ``step=review`` shows it, ``step=confirm`` posts it
    (the id is fixed at review, so a repeated confirmation posts once)."""
    store_id = identifier(store_id, "store_id")
    principal = _view().user
    require(principal, Action.ADJUST, Resource(store_id=store_id))
    form = parse_form(router.current_event.decoded_body)
    channel, currency = _channel(form.get("channel")), _currency(form.get("currency"))
    amount = signed_amount(form.get("amount"), "amount", maximum=MAX_PLAUSIBLE_AMOUNT)
    reason = choice(form.get("reason"), AdjustmentReason, "reason is not one of the listed reason codes")
    memo = form.get("memo", "").strip()[:500]
    if form.get("step") != "confirm":
        return _render(
            "adjust_confirm.html", store_id=store_id, channel=channel, currency=currency, amount=amount,
            reason=reason, memo=memo, adjustment_id=f"console-{uuid.uuid4().hex[:24]}",
        )  # fmt: skip
    ledger_service().adjust(
        store_id, channel, currency, adjustment_id=identifier(form.get("adjustment_id"), "adjustment_id"),
        amount=amount, reason=reason, memo=memo, now=clock.now(), actor=principal.actor,
    )  # fmt: skip
    return redirect(_view().url(f"/console/stores/{store_id}/balance", done="adjust"))


def _ledger_page(store_id: str, action: Action) -> tuple[str, Channel, str]:
    """A ledger page's store (after the policy allowed ``action`` on it), channel and currency."""
    store_id = identifier(store_id, "store_id")
    view = _view()
    require(view.user, action, Resource(store_id=store_id))
    return store_id, _channel(view.query.get("channel")), _currency(view.query.get("currency"))


@router.get("/console/stores/<store_id>/statement")
def statement(store_id: str) -> Response[Any]:
    """One page of the statement, newest first; "older" follows the page's cursor (a cursor that is
    not the statement's own is a 400 page)."""
    store_id, channel, currency = _ledger_page(store_id, Action.VIEW_LEDGER)
    cursor = _view().query.get("cursor") or None
    result = ledger_service().statement(
        store_id,
        channel,
        currency,
        now=clock.now(),
        limit=STATEMENT_PAGE_SIZE,
        cursor=cursor,
        order=Order.NEWEST_FIRST,
    )
    return _render(
        "statement.html",
        store_id=store_id,
        channel=channel,
        channels=list(Channel),
        currency=currency,
        summary=result.summary,
        rows=list(zip(result.entries, result.balances, strict=True)),
        first=cursor is None,
        next_cursor=result.next_cursor,
    )


@router.get("/console/stores/<store_id>/payout")
def payout_preview(store_id: str) -> Response[Any]:
    """The payout the store would get now, with its payout date, before it confirms."""
    from cardops.ledger.domain.payouts import Payout, PayoutError

    store_id, channel, currency = _ledger_page(store_id, Action.REQUEST_PAYOUT)
    request_id = f"console-{uuid.uuid4().hex[:24]}"
    payout: Payout | None = None
    refusal: str | None = None
    try:
        payout = ledger_service().preview_payout(
            store_id, channel, currency, request_id=request_id, now=clock.now()
        )
    except PayoutError as exc:  # the same refusal the request would get, shown before anyone confirms
        refusal = str(exc)
    return _render(
        "payout.html", store_id=store_id, channel=channel, channels=list(Channel), currency=currency,
        payout=payout, refusal=refusal, request_id=request_id,
    )  # fmt: skip


@router.post("/console/stores/<store_id>/payout")
def payout_request(store_id: str) -> Response[Any]:
    store_id = identifier(store_id, "store_id")
    view = _view()
    require(view.user, Action.REQUEST_PAYOUT, Resource(store_id=store_id))
    form = parse_form(router.current_event.decoded_body)
    channel = _channel(form.get("channel"))
    currency = _currency(form.get("currency"))
    request_id = identifier(form.get("request_id"), "request_id")
    payout = ledger_service().request_payout(
        store_id, channel, currency, request_id=request_id, now=clock.now(), actor=view.user.actor
    )
    return _render("payout_done.html", store_id=store_id, payout=payout)
