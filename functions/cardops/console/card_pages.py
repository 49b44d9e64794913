"""Card-line pages (issue 15 item 5, part): a tenant admin's error data with reason, hint and the
one-click proposed fix, re-match, hand assignment and the later-link of a corporate line to a report
submitted without it; an employee's own lines, selecting one for a claim, 対象外 for a
personal-settled leftover, and the "why can't I select it" diagnosis.

They call the card-line use cases the admin API calls (``CardLines``); the policy is asked about the
tenant (and employee) of the signed-in user, so nobody reaches another tenant's lines.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from cardops.console.policy import Action, Resource, require
from cardops.console.web import (
    BadForm,
    Pages,
    RequestView,
    identifier,
    optional_amount,
    parse_form,
    redirect,
    request_view,
)
from cardops.feeds.wiring import card_lines
from cardops.kernel import clock
from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT

router = Router()  # type: ignore[no-untyped-call]
PAGES = Pages()


def _view() -> RequestView:
    return request_view(router)


def _form() -> dict[str, str]:
    return parse_form(router.current_event.decoded_body)


def _render(name: str, **values: Any) -> Response[Any]:
    return PAGES.render(name, _view(), **values)


# -- tenant admin ----------------------------------------------------------------------------------


def _tenant(tenant_id: str) -> str:
    tenant_id = identifier(tenant_id, "tenant_id")
    require(_view().user, Action.MANAGE_CARD_LINES, Resource(tenant_id=tenant_id))
    return tenant_id


@router.get("/console/tenants/<tenant_id>/card-errors")
def card_errors(tenant_id: str) -> Response[Any]:
    tenant_id = _tenant(tenant_id)
    view = _view()
    return _render(
        "card_errors.html",
        tenant_id=tenant_id,
        errors=card_lines().errors(tenant_id),
        done=view.query.get("done"),
    )


@router.post("/console/tenants/<tenant_id>/card-errors/<line_id>/apply-fix")
def apply_fix(tenant_id: str, line_id: str) -> Response[Any]:
    tenant_id = _tenant(tenant_id)
    card_lines().apply_fix(tenant_id, identifier(line_id, "line_id"))
    return redirect(_view().url(f"/console/tenants/{tenant_id}/card-errors", done="fix"))


@router.post("/console/tenants/<tenant_id>/card-errors/<line_id>/assign")
def assign(tenant_id: str, line_id: str) -> Response[Any]:
    tenant_id = _tenant(tenant_id)
    employee = identifier(_form().get("employee_code", "").strip(), "employee_code")
    card_lines().assign(tenant_id, identifier(line_id, "line_id"), employee, actor=_view().user.actor)
    return redirect(_view().url(f"/console/tenants/{tenant_id}/card-errors", done="assign"))


@router.post("/console/tenants/<tenant_id>/rematch")
def rematch(tenant_id: str) -> Response[Any]:
    tenant_id = _tenant(tenant_id)
    card_lines().rematch(tenant_id)
    return redirect(_view().url(f"/console/tenants/{tenant_id}/card-errors", done="rematch"))


@router.get("/console/tenants/<tenant_id>/card-lines")
def tenant_lines(tenant_id: str) -> Response[Any]:
    """An employee's lines as the tenant admin sees them, to link a corporate line to a report
    submitted without it (SPEC §7: no later linking for personal-settled lines)."""
    tenant_id = _tenant(tenant_id)
    view = _view()
    cards = card_lines()
    chosen = view.query.get("employee_code") or None
    employee = identifier(chosen, "employee_code") if chosen else None
    lines = cards.employee_lines(tenant_id, employee, selectable_only=False) if employee else []
    return _render(
        "tenant_lines.html", tenant_id=tenant_id, employees=cards.employees(tenant_id), employee=employee,
        lines=lines, done=view.query.get("done"),
    )  # fmt: skip


@router.post("/console/tenants/<tenant_id>/card-lines/<line_id>/link")
def link(tenant_id: str, line_id: str) -> Response[Any]:
    tenant_id = _tenant(tenant_id)
    form = _form()
    employee = identifier(form.get("employee_code", "").strip(), "employee_code")
    report = identifier(form.get("report_id", "").strip(), "report_id")
    card_lines().link(tenant_id, identifier(line_id, "line_id"), employee, report, actor=_view().user.actor)
    return redirect(
        _view().url(f"/console/tenants/{tenant_id}/card-lines", employee_code=employee, done="link")
    )


# -- employee --------------------------------------------------------------------------------------


def _own() -> tuple[str, str]:
    """The signed-in employee's own tenant and code (an employee sees nobody else's lines)."""
    principal = _view().user
    tenant, employee = principal.tenant_id, principal.employee_code
    require(principal, Action.OWN_CARD_LINES, Resource(tenant_id=tenant, employee_code=employee))
    assert tenant is not None and employee is not None  # the policy allowed only a scoped employee
    return tenant, employee


@router.get("/console/me/card-lines")
def my_lines() -> Response[Any]:
    tenant, employee = _own()
    lines = card_lines().employee_lines(tenant, employee, selectable_only=False)
    return _render("my_lines.html", lines=lines, done=_view().query.get("done"), diagnosis=None)


@router.post("/console/me/card-lines/<line_id>/exclude")
def exclude(line_id: str) -> Response[Any]:
    tenant, employee = _own()
    card_lines().exclude(tenant, employee, identifier(line_id, "line_id"), actor=_view().user.actor)
    return redirect(_view().url("/console/me/card-lines", done="exclude"))


@router.post("/console/me/card-lines/<line_id>/select")
def select(line_id: str) -> Response[Any]:
    """The employee picks a line for an expense claim (the report it goes into)."""
    tenant, employee = _own()
    report = identifier(_form().get("report_id", "").strip(), "report_id")
    card_lines().select(tenant, employee, identifier(line_id, "line_id"), report, actor=_view().user.actor)
    return redirect(_view().url("/console/me/card-lines", done="select"))


@router.post("/console/me/diagnosis")
def diagnosis() -> Response[Any]:
    tenant, employee = _own()
    form = _form()
    try:
        usage_date = date.fromisoformat(form.get("usage_date", "").strip())
    except ValueError as exc:
        raise BadForm("usage_date must be a date (YYYY-MM-DD)") from exc
    amount = optional_amount(form.get("amount"), "amount", maximum=MAX_PLAUSIBLE_AMOUNT)
    cards = card_lines()
    found = cards.diagnose(tenant, employee, usage_date, amount, clock.now())
    lines = cards.employee_lines(tenant, employee, selectable_only=False)
    return _render("my_lines.html", lines=lines, done=None, diagnosis=found)
