"""Finance's flow in a real browser (issue 15 item 3), through ``cardops local``: a store's balance goes
below zero, finance finds it on the negative-balances page with its shortfall, follows the link to
the store's balance and offsets it with an adjustment (reviewed, then confirmed), and the store
leaves the page; the refund-rejection and operator-queue pages open too. A tenant admin opens the
later-link page. With ``CARDOPS_CONSOLE_SHOTS`` every page is photographed (``make console-shots``).

The sandbox and chromium are the console session's (``conftest.py``), the helpers the browser module's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.console.test_console_browser import check, sign_in, visit
from tests.helpers import sandbox_api as api

pytestmark = pytest.mark.e2e
STORE = "store_001"


def test_finance_offsets_a_negative_balance_found_across_stores(outputs: dict[str, Any], page: Any) -> None:
    console = outputs["ConsoleUrl"]
    code, body = api(
        outputs, "POST", f"/admin/stores/{STORE}/adjustments",
        {"adjustment_id": "e2e-negative", "amount": -7000, "reason": "tax_rate_change"},
    )  # fmt: skip
    assert code == 201, body

    sign_in(page, console, "finance-1")
    check(page, "home-finance")
    page.get_by_role("link", name="マイナス残高の店舗").first.click()
    check(page, "finance-negative-balances")
    row = page.locator(f"#negative-{STORE}-standard-JPY")
    assert "¥7,000" in row.inner_text()  # the shortfall

    row.get_by_role("link", name="残高・調整").click()
    assert page.url.endswith(f"/console/stores/{STORE}/balance")
    page.get_by_label("調整額（減額はマイナス）").fill("7000")
    page.get_by_label("理由コード").select_option("tax_rate_change")
    page.get_by_label("メモ").fill("offset of the e2e shortfall")
    page.get_by_role("button", name="内容を確認する").click()
    check(page, "finance-adjust-confirm")
    page.get_by_role("button", name="調整する").click()
    page.get_by_text("調整を記録しました。").wait_for()

    visit(page, f"{console}/finance/negative-balances")
    assert page.locator(f"#negative-{STORE}-standard-JPY").count() == 0
    page.get_by_role("link", name="返金の拒否（カード会社）").first.click()
    check(page, "finance-refund-rejections")
    page.get_by_role("link", name="オペレーター対応待ち（自動返金の失敗）").first.click()
    check(page, "finance-operator-queue")
    page.get_by_role("button", name="ログアウト").click()

    code, body = api(
        outputs, "PUT", "/admin/tenants/tenant_demo/employees/E001",
        {"name_kana": "ヤマダ タロウ", "card_linkage_code": "LNK-E001", "settlement": "corporate"},
    )  # fmt: skip
    assert code == 200, body
    sign_in(page, console, "tenant-admin-demo")
    page.get_by_role("link", name="カード明細（後から紐付け） (tenant_demo)").click()
    page.get_by_label("社員").select_option("E001")
    page.get_by_role("button", name="表示").click()
    assert page.url.endswith("/console/tenants/tenant_demo/card-lines?employee_code=E001")
    check(page, "tenant-card-lines")
    assert visit(page, f"{console}/finance/negative-balances").status == 403
