"""The console's finance pages (issue 15 item 1, finance): negative balances across stores with the
shortfall, refunds the card company rejected and what was reversed, and the operator queue of
failed automatic refunds with its actions. Finance's alone; every change names the console user."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pytest

from cardops.console.tokens import SandboxIssuer
from cardops.console.web import MAX_PAGE_BYTES
from tests.integration.console.conftest import FINANCE, Browser, Page, store_admin, text_of
from tests.integration.deadline.conftest import RecordingProvider, authorize

EMPLOYEE = {
    "sub": "emp-E001",
    "cognito:groups": ["employee"],
    "custom:tenant_id": "t1",
    "custom:employee_code": "E001",
}
PAGES = (
    "/console/finance/negative-balances",
    "/console/finance/refund-rejections",
    "/console/finance/operator-queue",
)


def small(page: Page) -> Page:
    assert page.status == 200, page.body[:500]
    assert len(page.body.encode()) < MAX_PAGE_BYTES
    return page


def _adjust(store: str, amount: int, key: str) -> None:
    from cardops.kernel import clock
    from cardops.ledger.domain.ledger import AdjustmentReason, Channel
    from cardops.ledger.wiring import ledger_service

    ledger_service().adjust(
        store, Channel.STANDARD, "JPY", adjustment_id=key, amount=amount,
        reason=AdjustmentReason.TAX_RATE_CHANGE, memo="", now=clock.now(), actor="test",
    )  # fmt: skip


def test_only_finance_opens_the_finance_pages(console: SandboxIssuer) -> None:
    for claims in (store_admin("store-1"), EMPLOYEE, {"sub": "s", "cognito:groups": ["support"]}):
        someone = Browser(console, claims)
        for path in PAGES:
            page = someone.get(path)
            assert page.status == 403 and "この操作は許可されていません" in page.body, (claims["sub"], path)
    home = small(Browser(console, FINANCE).get("/console"))
    assert all(path in home.body for path in PAGES)


def test_finance_sees_each_negative_balance_with_its_shortfall_from_the_index_only(
    console: SandboxIssuer,
) -> None:
    from cardops.ledger.domain.ledger import Channel
    from cardops.ledger.store import LedgerStore
    from tests.helpers import counting_aws_calls

    _adjust("store-neg", -3000, "neg-1")  # below zero
    _adjust("store-back", -1000, "back-1")  # debited, then back above zero
    _adjust("store-back", 5000, "back-2")
    for n in range(4):  # never debited: never read
        _adjust(f"store-ok-{n}", 2000, f"ok-{n}")
    finance = Browser(console, FINANCE)

    page = small(finance.get("/console/finance/negative-balances"))
    row = page.body.split('id="negative-store-neg-standard-JPY"')[1].split("</tr>")[0]
    assert "-¥3,000" in row and "<strong>¥3,000</strong>" in row  # balance and shortfall
    assert "/console/stores/store-neg/balance" in row and "/console/stores/store-neg/statement" in row
    assert "store-back" not in page.body and "store-ok" not in page.body
    # the ledger found above zero left the index: the next read is smaller
    assert LedgerStore().debited_ledgers() == [("store-neg", Channel.STANDARD, "JPY")]
    with counting_aws_calls() as calls:
        assert "store-neg" in small(finance.get("/console/finance/negative-balances")).body
    assert dict(calls) == {"dynamodb:Query": 1, "dynamodb:GetItem": 1}

    # the admin API answers the same, from the same use case
    from tests.integration.support.conftest import admin

    code, answer = admin("GET", "/admin/finance/negative-balances")
    assert code == 200 and [(x["store_id"], x["shortfall"]) for x in answer["ledgers"]] == [
        ("store-neg", 3000)
    ]

    # offset through the same channel: it leaves the page
    _adjust("store-neg", 3000, "neg-2")
    assert "store-neg" not in small(finance.get("/console/finance/negative-balances")).body
    assert LedgerStore().debited_ledgers() == []


def test_finance_sees_rejected_refunds_with_their_reason_and_what_was_reversed(
    console: SandboxIssuer,
) -> None:
    from cardops.kernel import clock
    from cardops.ledger.domain.ledger import Channel
    from cardops.ledger.store import RefundStore, transact
    from cardops.payments.domain.refunds import FinanceAlert

    def alert(refund_id: str, kind: Any, minutes: int) -> FinanceAlert:
        return FinanceAlert(
            alert_id=f"{kind}:{refund_id}", kind=kind, refund_id=refund_id, store_id="store-3",
            channel=Channel.STANDARD, provider="payjp", provider_payment_id="ch_refunded", amount=1200,
            currency="JPY", card_expired=True, detail="card closed by the issuer",
            at=clock.now() - timedelta(minutes=minutes),
        )  # fmt: skip

    for a in (alert("rf_old", "refund_rejected", 30), alert("rf_new", "refund_rejected", 5),
              alert("rf_made", "provider_refund", 1)):  # fmt: skip
        transact([RefundStore().alert_write(a)])

    page = small(Browser(console, FINANCE).get("/console/finance/refund-rejections"))
    assert page.body.index("rejection-rf_new") < page.body.index("rejection-rf_old")  # newest first
    assert "rf_made" not in page.body  # a refund made at the provider is no rejection
    row = text_of(Page(200, page.body.split('id="rejection-rf_new"')[1].split("</tr>")[0]))
    assert "card closed by the issuer" in row and "有効期限切れのカード" in row
    assert "¥1,200" in row and "店舗残高に戻しました" in row
    assert "/console/payments/payjp/ch_refunded" in page.body
    english = small(Browser(console, FINANCE).get("/console/finance/refund-rejections?lang=en"))
    assert "back to the store's ledger" in html.unescape(english.body)

    from tests.integration.support.conftest import admin

    code, answer = admin("GET", "/admin/finance/refund-rejections?limit=10")
    assert code == 200 and [a["refund_id"] for a in answer["alerts"]] == ["rf_new", "rf_old"]
    # the newest alert is no rejection: the answer still holds ``limit`` rejections
    code, answer = admin("GET", "/admin/finance/refund-rejections?limit=1")
    assert code == 200 and [a["refund_id"] for a in answer["alerts"]] == ["rf_new"]


@pytest.fixture
def failed_auto_refund(console: SandboxIssuer, provider: RecordingProvider) -> Any:
    """An authorization past its capture deadline whose automatic refund failed: a case in the queue."""
    from cardops.kernel import clock
    from cardops.support import hooks

    def make(payment_id: str, *, past_deadline: bool = False) -> str:
        authorize(provider, payment_id, visit_date=(clock.now() + timedelta(days=1)).date(),
                  start_workflow=False)  # fmt: skip
        if past_deadline:  # before the case opens, so its own timers stay hours away
            clock.advance(timedelta(days=12))
        case_id = hooks.auto_refund_failed("payjp", payment_id, error="PermanentProviderError")
        assert case_id is not None
        return case_id

    yield make
    clock.reset()


def _case(case_id: str) -> Any:
    from cardops.support.wiring import support_deps

    found = support_deps().cases.get(case_id)
    assert found is not None
    return found


def test_finance_retries_a_failed_automatic_refund_from_the_operator_queue(
    console: SandboxIssuer, provider: RecordingProvider, failed_auto_refund: Any
) -> None:
    from cardops.payments.store.payments import PaymentRepository

    case_id = failed_auto_refund("pay_stuck", past_deadline=True)
    finance = Browser(console, FINANCE)
    queue = small(finance.get("/console/finance/operator-queue"))
    assert f'id="case-{case_id}"' in queue.body and "pay_stuck" in queue.body
    retry = f"/console/finance/operator-queue/{case_id}/retry"

    # no CSRF token, or not finance: nothing is retried
    assert finance.post(retry, {}, csrf=False).status == 403
    assert Browser(console, store_admin("store-1")).post(retry, {}).status == 403
    assert provider.count("cancel", "pay_stuck") == 0

    provider.cancel_failures.append(RuntimeError("the provider is down"))  # still failing: stays open
    assert finance.post(retry, {}).status >= 500
    assert _case(case_id).status.value == "open"

    done = finance.post(retry, {})
    assert done.status == 303 and done.location.endswith("done=retry&outcome=expired_refunded")
    payment, history = PaymentRepository().get_with_history("payjp", "pay_stuck") or (None, [])
    assert payment is not None and payment.status.value == "expired_refunded"
    assert history[-1].actor == "console:finance-1"
    case = _case(case_id)
    assert case.status.value == "resolved" and case.resolved_by == "console:finance-1"
    assert case.resolution == "automatic refund retried: expired_refunded"
    assert case_id not in small(finance.get("/console/finance/operator-queue?done=retry")).body


def test_finance_resolves_a_case_with_a_note_recorded_as_the_acting_user(
    console: SandboxIssuer, provider: RecordingProvider, failed_auto_refund: Any
) -> None:
    case_id = failed_auto_refund("pay_by_hand")
    finance = Browser(console, FINANCE)
    resolve = f"/console/finance/operator-queue/{case_id}/resolve"
    note = {"note": "released in the PAY.JP dashboard by hand"}
    assert finance.post(resolve, note, csrf=False).status == 403
    assert finance.post(resolve, {"note": " "}).status == 400  # a resolution says what was done
    assert _case(case_id).status.value == "open"

    done = finance.post(resolve, note)
    assert done.status == 303 and done.location.endswith("/console/finance/operator-queue?done=resolve")
    case = _case(case_id)
    assert case.status.value == "resolved" and case.resolution == note["note"]
    assert case.acknowledged_by == case.resolved_by == "console:finance-1"
    assert finance.post(resolve, note).status == 409  # resolved once


def test_the_admin_api_retries_an_automatic_refund_as_its_iam_caller(
    console: SandboxIssuer, provider: RecordingProvider
) -> None:
    from cardops.kernel import clock
    from cardops.payments.store.payments import PaymentRepository
    from tests.integration.support.conftest import DESK, admin

    authorize(provider, "pay_api", visit_date=(clock.now() + timedelta(days=1)).date(), start_workflow=False)
    try:
        path = "/admin/payments/payjp/pay_api/auto-refund"
        assert admin("POST", path) == (200, {"outcome": "not_due", "status": "authorized"})
        assert provider.count("cancel", "pay_api") == 0  # before the deadline nothing is released
        clock.advance(timedelta(days=12))
        assert admin("POST", path) == (200, {"outcome": "expired_refunded", "status": "expired_refunded"})
        _, history = PaymentRepository().get_with_history("payjp", "pay_api") or (None, [])
        assert history[-1].actor == DESK
        assert admin("POST", path) == (200, {"outcome": "expired_refunded", "status": "expired_refunded"})
        assert provider.count("cancel", "pay_api") == 1  # a repeat releases nothing twice
    finally:
        clock.reset()
