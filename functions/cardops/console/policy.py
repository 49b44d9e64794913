"""Who may do what in the console: one pure policy, checked on every request and every resource.

A :class:`Principal` comes from a verified ID token (``console.tokens``); a :class:`Resource` names
the store, tenant or employee a page shows or changes, taken from the record fetched (never from the
URL alone), so a store admin of one store cannot reach another store's payment by its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Group(StrEnum):
    """The Cognito groups (the stack creates each one)."""

    STORE_ADMIN = "store_admin"
    SUPPORT = "support"
    FINANCE = "finance"
    TENANT_ADMIN = "tenant_admin"
    EMPLOYEE = "employee"


class Action(StrEnum):
    VIEW_STORE = "store.view"  # dashboard, uncaptured sales, payments and their timeline
    CAPTURE = "payment.capture"
    REFUND = "payment.refund"
    VIEW_LEDGER = "ledger.view"  # balance and statement
    REQUEST_PAYOUT = "ledger.payout"
    ADJUST = "ledger.adjust"
    DECIDE_REPAYMENT = "repayment.decide"
    FINANCE_DESK = "finance.desk"  # negative balances, refund rejections, the operator queue and its actions
    MANAGE_CARD_LINES = "feeds.manage"  # a tenant's error data, re-match, assign, later-link
    OWN_CARD_LINES = "feeds.own"  # an employee's own lines, 対象外, diagnosis


@dataclass(frozen=True)
class Principal:
    """The signed-in console user (claims of a verified ID token)."""

    user_id: str
    groups: frozenset[Group] = frozenset()
    store_ids: frozenset[str] = frozenset()
    tenant_id: str | None = None
    employee_code: str | None = None
    email: str | None = None

    @property
    def actor(self) -> str:
        """What a change records as its actor (history, ledger, audit trail)."""
        return f"console:{self.user_id}"


@dataclass(frozen=True)
class Resource:
    """What an action is on; ``None`` fields are not part of it (a page that lists every store)."""

    store_id: str | None = None
    tenant_id: str | None = None
    employee_code: str | None = None


#: the actions each group may take on any resource of its scope
_GRANTS: dict[Group, frozenset[Action]] = {
    Group.STORE_ADMIN: frozenset(
        {Action.VIEW_STORE, Action.CAPTURE, Action.REFUND, Action.VIEW_LEDGER, Action.REQUEST_PAYOUT}
    ),
    Group.SUPPORT: frozenset({Action.VIEW_STORE, Action.DECIDE_REPAYMENT}),
    Group.FINANCE: frozenset(
        {
            Action.VIEW_STORE,
            Action.REFUND,
            Action.VIEW_LEDGER,
            Action.REQUEST_PAYOUT,
            Action.ADJUST,
            Action.FINANCE_DESK,
        }
    ),
    Group.TENANT_ADMIN: frozenset({Action.MANAGE_CARD_LINES}),
    Group.EMPLOYEE: frozenset({Action.OWN_CARD_LINES}),
}


def _in_scope(principal: Principal, group: Group, resource: Resource) -> bool:
    if group is Group.STORE_ADMIN:
        # scoped to its stores: a resource of no store (a cross-store list) is out of its scope
        return resource.store_id is not None and resource.store_id in principal.store_ids
    if group is Group.TENANT_ADMIN:
        return resource.tenant_id is not None and resource.tenant_id == principal.tenant_id
    if group is Group.EMPLOYEE:
        return (
            resource.tenant_id is not None
            and resource.tenant_id == principal.tenant_id
            and resource.employee_code is not None
            and resource.employee_code == principal.employee_code
        )
    return True  # support and finance work across stores


def can(principal: Principal, action: Action, resource: Resource) -> bool:
    """Whether ``principal`` may take ``action`` on ``resource`` (any one of its groups allowing it)."""
    return any(
        action in _GRANTS[group] and _in_scope(principal, group, resource) for group in principal.groups
    )


class Forbidden(Exception):
    """The signed-in user may not do this (a 403 page; nothing is read or changed)."""

    def __init__(self, principal: Principal, action: Action, resource: Resource) -> None:
        super().__init__(f"{principal.user_id} may not {action.value} here")
        self.action = action
        self.resource = resource


def require(principal: Principal, action: Action, resource: Resource) -> None:
    if not can(principal, action, resource):
        raise Forbidden(principal, action, resource)


def home_store(principal: Principal) -> str | None:
    """The store a store admin lands on (the first of its stores, in a stable order)."""
    return min(principal.store_ids) if principal.store_ids else None
