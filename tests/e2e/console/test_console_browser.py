"""The web console in a real browser (issue 15 item 4): headless Debian chromium, driven by
Playwright, against ``cardops local``.

A store admin signs in through the sandbox's user switcher, captures part of an authorization after
its confirmation page, refunds with a reason, sees the payout date before requesting, and is refused
another store's payment; support and finance open a store from the picker, support its re-payment
queue; a tenant admin its card-line error data and not another tenant's. Set
``CARDOPS_CONSOLE_SHOTS`` to a folder to keep a screenshot of every page (``make console-shots``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import payjp
import pytest

from tests.helpers import eventually, sandbox_now
from tests.helpers import sandbox_api as api

pytestmark = pytest.mark.e2e
TOKYO = ZoneInfo("Asia/Tokyo")
MAX_PAGE_BYTES = 200 * 1024
SHOTS = os.environ.get("CARDOPS_CONSOLE_SHOTS")


#: the fixtures live in ``conftest.py`` (one sandbox, one chromium per session); these names stay
#: importable for modules written against this one's fixtures without registering them a second
#: time (an imported fixture function is a second, module-scoped copy: a second sandbox)
outputs = browser = page = "see tests/e2e/console/conftest.py"


def charge(outputs: dict[str, Any], store_id: str, reservation_id: str) -> Any:
    now = sandbox_now(outputs)
    created = payjp.Charge.create(
        amount=12000,
        currency="jpy",
        card="tok_visa",
        capture=False,
        expiry_days=30,
        metadata={
            "store_id": store_id,
            "reservation_id": reservation_id,
            # visited five days ago: the deadline (visit + 7 days, end of day) is two to three days away
            "visit_date": (now.astimezone(TOKYO).date() - timedelta(days=5)).isoformat(),
            "accepted_at": (now - timedelta(days=6)).astimezone(TOKYO).isoformat(),
        },
    )
    eventually(lambda: _status(outputs, created.id) == "authorized")
    return created


def _status(outputs: dict[str, Any], charge_id: str) -> str | None:
    code, body = api(outputs, "GET", f"/admin/payments/payjp/{charge_id}")
    return body["status"] if code == 200 else None


def visit(page: Any, url: str, name: str | None = None) -> Any:
    response = page.goto(url)
    check(page, name)
    return response


def check(page: Any, name: str | None) -> None:
    """Every page stays small, labels every input, and (with CARDOPS_CONSOLE_SHOTS) is photographed."""
    html = page.content()
    assert len(html.encode()) < MAX_PAGE_BYTES
    unlabeled = page.eval_on_selector_all(
        "input:not([type=hidden]), select, textarea",
        "els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))"
        ".map(e => e.name)",
    )
    assert unlabeled == []
    if SHOTS and name:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def sign_in(page: Any, console: str, user_id: str) -> None:
    visit(page, console, "sign-in")
    assert page.url.endswith("/console/sandbox/login")
    page.get_by_role("button", name=f"このユーザーでログイン: {user_id}").click()


def test_a_store_admin_captures_refunds_and_requests_a_payout(outputs: dict[str, Any], page: Any) -> None:
    console = outputs["ConsoleUrl"]
    sign_in(page, console, "store-admin-042")
    assert page.url.endswith("/console/stores/store_042")
    # the sandbox is shared by the session's browser tests: count from what is there already
    before = int(page.locator("#uncaptured-count").inner_text())
    mine = charge(outputs, "store_042", "rsv_console_mine")
    page.reload()
    check(page, "dashboard")
    assert page.locator("#uncaptured-count").inner_text() == str(before + 1)
    page.get_by_role("link", name="未認証の売上").first.click()
    check(page, "uncaptured")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"payjp / {mine.id}"))
    assert row.get_by_text("72時間以内").count() == 1  # the deadline badge of a capture due in 2–3 days

    page.get_by_role("link", name=f"payjp / {mine.id}").click()
    check(page, "payment")
    # keyboard only: focus the amount, type, Enter submits the review
    page.get_by_label("確定する金額（空欄で全額）").focus()
    page.keyboard.type("5000")
    page.keyboard.press("Enter")
    page.wait_for_url("**/capture")
    check(page, "capture-confirm")
    assert page.locator("#confirm-amount").inner_text() == "¥5,000"
    page.get_by_role("button", name="確定する").click()
    page.get_by_text("売上を確定しました。").wait_for()
    assert page.locator("#payment-status").inner_text() == "captured"
    assert page.get_by_role("cell", name="console:store-admin-042").count() >= 1

    page.get_by_label("返金額").fill("1000")
    page.get_by_label("返金理由").select_option("customer_request")
    page.get_by_role("button", name="内容を確認する").click()
    check(page, "refund-confirm")
    page.get_by_role("button", name="返金する").click()
    page.get_by_text("返金を受け付けました。").wait_for()
    check(page, "payment-refunded")
    assert page.get_by_role("cell", name="お客様のご要望").count() == 1

    page.get_by_role("link", name="残高").click()
    check(page, "balance")
    page.get_by_role("link", name="取引明細").click()
    check(page, "statement")
    page.get_by_role("link", name="振込申請").click()
    check(page, "payout")
    # the sale is not confirmed yet (¥5,000 minimum): the refusal is shown before anything is requested
    assert page.get_by_role("alert").count() == 1

    page.get_by_role("link", name="English").click()
    check(page, None)
    assert page.get_by_role("heading", name="Payout request — store_042").count() == 1


def test_another_stores_payment_is_forbidden(outputs: dict[str, Any], page: Any) -> None:
    console = outputs["ConsoleUrl"]
    theirs = charge(outputs, "store_001", "rsv_console_theirs")
    sign_in(page, console, "store-admin-042")
    response = visit(page, f"{console}/payments/payjp/{theirs.id}", "forbidden")
    assert response.status == 403
    assert page.get_by_role("heading", name="この操作は許可されていません。").count() == 1
    assert "12,000" not in page.content()
    assert visit(page, f"{console}/stores/store_001").status == 403


def test_support_and_finance_open_a_store_from_the_picker(outputs: dict[str, Any], page: Any) -> None:
    console = outputs["ConsoleUrl"]
    sign_in(page, console, "support-1")
    check(page, "home-support")
    page.get_by_label("店舗ID").fill("store_042")
    page.get_by_role("button", name="開く").click()
    assert page.url.endswith("/console/stores/store_042")
    page.get_by_role("link", name="未認証の売上").first.click()
    assert visit(page, f"{console}/stores/store_042/balance").status == 403  # support moves no money
    assert visit(page, f"{console}/repayments", "repayments").status == 200
    page.get_by_role("button", name="ログアウト").click()
    sign_in(page, console, "finance-1")
    assert visit(page, f"{console}/stores/store_042/statement", "statement-finance").status == 200
    page.get_by_role("button", name="ログアウト").click()
    sign_in(page, console, "tenant-admin-demo")
    page.get_by_role("link", name="カード明細のエラーデータ (tenant_demo)").click()
    check(page, "card-errors")
    assert visit(page, f"{console}/tenants/tenant_other/card-errors").status == 403
