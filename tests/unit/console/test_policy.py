"""The console's one authorization policy (issue 15 item 2): each group within its own scope."""

from __future__ import annotations

import pytest

from cardops.console.policy import Action, Forbidden, Group, Principal, Resource, can, require

STORE_ADMIN = Principal("u1", frozenset({Group.STORE_ADMIN}), store_ids=frozenset({"store_a"}))
SUPPORT = Principal("u2", frozenset({Group.SUPPORT}))
FINANCE = Principal("u3", frozenset({Group.FINANCE}))
TENANT_ADMIN = Principal("u4", frozenset({Group.TENANT_ADMIN}), tenant_id="t1")
EMPLOYEE = Principal("u5", frozenset({Group.EMPLOYEE}), tenant_id="t1", employee_code="E001")
NOBODY = Principal("u6")


@pytest.mark.parametrize("action", [Action.VIEW_STORE, Action.CAPTURE, Action.REFUND, Action.REQUEST_PAYOUT])
def test_a_store_admin_acts_on_its_own_store_only(action: Action) -> None:
    assert can(STORE_ADMIN, action, Resource(store_id="store_a"))
    assert not can(STORE_ADMIN, action, Resource(store_id="store_b"))
    # a record whose store is unknown is nobody's store
    assert not can(STORE_ADMIN, action, Resource(store_id=None))


def test_a_store_admin_cannot_adjust_or_decide() -> None:
    assert not can(STORE_ADMIN, Action.ADJUST, Resource(store_id="store_a"))
    assert not can(STORE_ADMIN, Action.DECIDE_REPAYMENT, Resource(store_id="store_a"))


def test_support_reads_every_store_and_decides_repayments_but_moves_no_money() -> None:
    assert can(SUPPORT, Action.VIEW_STORE, Resource(store_id="store_b"))
    assert can(SUPPORT, Action.DECIDE_REPAYMENT, Resource(store_id="store_b"))
    for action in (Action.CAPTURE, Action.REFUND, Action.REQUEST_PAYOUT, Action.ADJUST, Action.VIEW_LEDGER):
        assert not can(SUPPORT, action, Resource(store_id="store_b"))


def test_finance_works_on_ledgers_of_every_store_but_never_captures() -> None:
    for action in (Action.VIEW_LEDGER, Action.ADJUST, Action.REQUEST_PAYOUT, Action.REFUND):
        assert can(FINANCE, action, Resource(store_id="store_b"))
    assert not can(FINANCE, Action.CAPTURE, Resource(store_id="store_b"))


def test_tenant_admins_and_employees_are_scoped_to_their_tenant_and_lines() -> None:
    assert can(TENANT_ADMIN, Action.MANAGE_CARD_LINES, Resource(tenant_id="t1"))
    assert not can(TENANT_ADMIN, Action.MANAGE_CARD_LINES, Resource(tenant_id="t2"))
    assert not can(TENANT_ADMIN, Action.VIEW_STORE, Resource(store_id="store_a"))
    assert can(EMPLOYEE, Action.OWN_CARD_LINES, Resource(tenant_id="t1", employee_code="E001"))
    assert not can(EMPLOYEE, Action.OWN_CARD_LINES, Resource(tenant_id="t1", employee_code="E002"))
    assert not can(EMPLOYEE, Action.OWN_CARD_LINES, Resource(tenant_id="t2", employee_code="E001"))
    assert not can(EMPLOYEE, Action.MANAGE_CARD_LINES, Resource(tenant_id="t1"))


def test_no_group_no_action() -> None:
    assert not any(can(NOBODY, action, Resource(store_id="s", tenant_id="t")) for action in Action)


def test_require_raises_forbidden_and_the_actor_names_the_console_user() -> None:
    with pytest.raises(Forbidden):
        require(STORE_ADMIN, Action.CAPTURE, Resource(store_id="store_b"))
    require(STORE_ADMIN, Action.CAPTURE, Resource(store_id="store_a"))
    assert STORE_ADMIN.actor == "console:u1"
