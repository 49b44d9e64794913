"""The support desk's re-payment pages (issue 15 item 5, part): the queue, the checks against the
reservation, and the decision sent to the waiting workflow with the desk member as the actor."""

from __future__ import annotations

from typing import Any

from cardops.console.tokens import SandboxIssuer
from cardops.sandbox.payjp_emulator import PayjpEmulator
from tests.integration.console.conftest import Browser, store_admin, text_of
from tests.integration.repayment.conftest import admin, original_payment, start_body, wait_for_status

SUPPORT = {"sub": "desk-1", "cognito:groups": ["support"]}


def test_the_desk_approves_a_waiting_request_and_store_admins_cannot(
    env: Any, emulator: PayjpEmulator, console: SandboxIssuer
) -> None:
    charge_id = original_payment(emulator)
    code, started = admin("POST", "/admin/repayments", start_body(charge_id))
    assert code == 201, started
    wait_for_status("rq_test_0001", "awaiting_decision")

    desk = Browser(console, SUPPORT)
    queue = desk.get("/console/repayments")
    assert queue.status == 200 and "rq_test_0001" in queue.body
    page = desk.get("/console/repayments/rq_test_0001")
    assert page.status == 200 and 'id="repayment-status">awaiting_decision<' in page.body
    assert "すべての項目が予約と一致しました。" in text_of(page)
    # the evidence preview: the e-mail's correspondents, read from the evidence bucket as its own role
    assert 'id="evidence-preview"' in page.body and "hanako.yamada@example.jp" in page.body

    store = Browser(console, store_admin("store_042"))  # the request's own store: still not the desk's job
    assert store.get("/console/repayments").status == 403
    assert store.post("/console/repayments/rq_test_0001/decision", {"decision": "approve"}).status == 403
    assert (
        desk.post("/console/repayments/rq_test_0001/decision", {"decision": "reject"}).status == 400
    )  # no reason
    assert wait_for_status("rq_test_0001", "awaiting_decision")

    # an approval charges the card: the desk reviews it on a confirmation page first, nothing decided yet
    review = desk.post("/console/repayments/rq_test_0001/decision", {"decision": "approve"})
    assert review.status == 200 and 'id="confirm-amount">¥12,000<' in review.body
    assert 'name="step" value="confirm"' in review.body
    assert wait_for_status("rq_test_0001", "awaiting_decision")

    done = desk.post("/console/repayments/rq_test_0001/decision", {"decision": "approve", "step": "confirm"})
    assert done.status == 303
    decided = wait_for_status("rq_test_0001", "charged", timeout=30)
    assert decided["decision"]["decided_by"] == "console:desk-1"
    # the outcome: the new charge, linked to its payment page
    new = decided["new_payment"]["provider_payment_id"]
    shown = desk.get("/console/repayments/rq_test_0001")
    assert f'href="/console/payments/payjp/{new}"' in shown.body
    again = desk.post("/console/repayments/rq_test_0001/decision", {"decision": "approve", "step": "confirm"})
    assert again.status == 409
