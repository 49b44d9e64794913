"""The main flow of the support desk, the tenant admin and the employee in a real browser (issue 15
item 3), through ``cardops local``: each role does its day's work, not only opens its pages.

The support desk decides a re-payment on the evidence and sees the new charge; the tenant admin
fixes a line the feed sync could not match; the employee marks a personal-card leftover 対象外 and
asks why a line cannot be selected (with the keyboard only); one page is switched to English. Every
step is checked (size, labels) and, with ``CARDOPS_CONSOLE_SHOTS``, photographed.

The sandbox and chromium are the console session's (``conftest.py``), the helpers the browser
module's. Tests may run in any order: what they set up is theirs (own reservation, own employees and
lines); the seeded employee E001 is put with the values the finance module's test puts too.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from typing import Any

import boto3
import pytest

from cardops.kernel.calendar import next_business_day, tokyo_date
from tests.conftest import ROOT
from tests.e2e.console.test_console_browser import check, sign_in, visit
from tests.helpers import eventually, expired_payjp_original, sandbox_now
from tests.helpers import sandbox_api as api

pytestmark = pytest.mark.e2e
REPAYMENT = ROOT / "events" / "repayment"
STORE = "store_console_repay"  # the re-payment's: not a seeded store admin's (their tests count money)
TENANT = "tenant_demo"
REPAYMENT_QUEUE, MY_LINES = (
    "再決済申請の確認待ち",
    "わたしのカード明細",
)  # the home page's links  # the seeded tenant admin's and employee's tenant
#: the seeded employee, as the finance module's test puts it too (either may run first)
E001 = {"name_kana": "ヤマダ タロウ", "card_linkage_code": "LNK-E001", "settlement": "corporate"}
FEED_HEADER = (
    "明細番号,利用日,売上日,カード連携用コード,社員コード,利用者カナ,カード番号下4桁,利用店名,利用金額,"
    "現地通貨額,通貨,承認番号,決済区分"
)


def expired_payment(outputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A reservation and its PAY.JP authorization, released by the capture-deadline workflow (the
    visit is long past), with the sample evidence pointing at them: the re-payment's starting point."""
    evidence = json.loads((REPAYMENT / "evidence.json").read_text(encoding="utf-8"))["evidence"]
    evidence = {k: v for k, v in evidence.items() if k != "document"}
    evidence["reservation_id"] = f"rsv_console_{secrets.token_hex(4)}"
    # a store no other browser test counts on: the new charge moves its balance
    evidence["store_id"] = STORE
    evidence["subject"] = evidence["subject"].replace("store_042", STORE)
    reservation = {
        k: evidence[k] for k in ("store_id", "holder_name", "email", "tel", "reserved_at", "amount")
    }
    code, body = api(
        outputs, "PUT", f"/admin/reservations/{evidence['reservation_id']}",
        {**reservation, "tax_treatment": "inclusive"},
    )  # fmt: skip
    assert code == 200, body
    _, original_id = expired_payjp_original(outputs, evidence)
    return original_id, evidence


def _repayment_status(outputs: dict[str, Any], request_id: str) -> str:
    code, body = api(outputs, "GET", f"/admin/repayments/{request_id}")
    assert code == 200, body
    return str(body["status"])


def test_the_support_desk_approves_a_repayment_on_its_evidence(outputs: dict[str, Any], page: Any) -> None:
    console = outputs["ConsoleUrl"]
    original, evidence = expired_payment(outputs)
    request_id = f"rq_console_{secrets.token_hex(4)}"
    document = base64.b64encode((REPAYMENT / "consent.eml").read_bytes()).decode()
    code, body = api(
        outputs, "POST", "/admin/repayments",
        {"request_id": request_id, "original_payment": {"provider": "payjp", "provider_payment_id": original},
         "evidence": evidence, "document": {"kind": "eml", "content_base64": document}},
    )  # fmt: skip
    assert code == 201, body
    eventually(lambda: _repayment_status(outputs, request_id) == "awaiting_decision")

    sign_in(page, console, "support-1")
    page.get_by_role("link", name=REPAYMENT_QUEUE).click()
    check(page, "support-queue")
    page.get_by_role("link", name=request_id).click()
    check(page, "support-request")
    assert page.locator("#repayment-status").inner_text() == "awaiting_decision"
    preview = page.locator("#evidence-preview")
    assert "EML" in preview.inner_text() and "hanako.yamada@example.jp" in preview.inner_text()
    assert page.get_by_text("すべての項目が予約と一致しました。").count() == 1  # the field-by-field checks

    stale = page.context.new_page()  # the same request, left open in a second tab before deciding
    stale.goto(page.url)

    page.get_by_label("承認する（再決済を実行）").check()
    page.get_by_label("理由（却下の場合は必須）").fill("consent by e-mail")
    page.get_by_role("button", name="判断を送信する").click()
    check(page, "support-confirm")
    assert page.locator("#confirm-decision").inner_text() == "承認する（再決済を実行）"
    assert page.locator("#confirm-amount").inner_text() == "¥12,000"
    page.get_by_role("button", name="承認を確定する").click()
    page.get_by_text("承認しました。").wait_for()

    eventually(lambda: _repayment_status(outputs, request_id) == "charged")
    page.reload()
    check(page, "support-charged")
    assert page.locator("#repayment-status").inner_text() == "charged"
    assert page.get_by_role("cell", name="console:support-1").count() >= 1  # the decision's actor
    page.locator("#new-payment").get_by_role("link").click()
    check(page, "support-new-payment")
    assert page.locator("#payment-status").inner_text() == "captured"

    # the second decision, from the tab opened before the first: refused, and said why
    stale.get_by_label("却下する").check()
    stale.get_by_label("理由（却下の場合は必須）").fill("changed my mind")
    stale.get_by_role("button", name="判断を送信する").click()
    stale.get_by_role("button", name="却下を確定する").click()
    check(stale, "support-second-decision")
    assert stale.get_by_role("alert").count() == 1
    assert f"(409): request {request_id} is already charged" in stale.get_by_role("alert").inner_text()
    assert _repayment_status(outputs, request_id) == "charged"


def feed_lines(outputs: dict[str, Any]) -> dict[str, str]:
    """The tenant's master and a card statement delivered to the feed bucket, synced through the admin
    API: a line whose kana has a big ツ for the master's small ッ (error data with a proposed fix), a
    personal-card line of E001 and a line of another employee. Its line ids by role."""
    suffix = secrets.token_hex(3).upper()
    small_kana, other = f"E9{suffix}", f"E8{suffix}"
    code, body = api(outputs, "PUT", f"/admin/tenants/{TENANT}", {"corporate_number": "5835678256246"})
    assert code == 200, body
    for employee, fields in (
        ("E001", {**E001, "card_company_employee_code": "S0001"}),
        (small_kana, {"name_kana": "ガッコウ ハナコ", "card_linkage_code": f"LNK-{small_kana}",
                      "card_company_employee_code": f"S{small_kana}"}),
        (other, {"name_kana": "スズキ イチロウ", "card_linkage_code": f"LNK-{other}",
                 "card_company_employee_code": f"S{other}"}),
    ):  # fmt: skip
        code, body = api(outputs, "PUT", f"/admin/tenants/{TENANT}/employees/{employee}", fields)
        assert code == 200, body

    today = tokyo_date(sandbox_now(outputs))
    business_date = next_business_day(today - timedelta(days=7))
    leftover = 1000 + secrets.randbelow(9000)  # E001's line of this call (each test makes one)
    used = (business_date - timedelta(days=3)).isoformat().replace("-", "/")
    ids = {"small_kana": f"C{suffix}1", "personal": f"C{suffix}2", "other": f"C{suffix}3"}
    rows = [  # 明細番号, linkage code, card's employee code, kana, merchant, amount, 決済区分
        (
            ids["small_kana"],
            f"LNK-{small_kana}",
            f"S{small_kana}",
            "ガツコウ ハナコ",
            "タリーズコーヒー",
            450,
            "法人",
        ),
        (ids["personal"], "LNK-E001", "S0001", "ヤマダ タロウ", f"コンビニ {suffix}", leftover, "個人"),
        (ids["other"], f"LNK-{other}", f"S{other}", "スズキ イチロウ", "書店 渋谷", 1200, "法人"),
    ]
    csv = [FEED_HEADER] + [
        f"{no},{used},{used},{link},{code},{kana},1234,{shop},{yen},,,5000{i},{kind}"
        for i, (no, link, code, kana, shop, yen, kind) in enumerate(rows)
    ]
    s3 = boto3.client(
        "s3", endpoint_url=outputs["AwsEndpointUrl"], region_name="ap-northeast-1",
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
    )  # fmt: skip
    s3.put_object(
        Bucket=outputs["FeedBucketName"],
        Key=f"feeds/{TENANT}/generic/console_{suffix}.csv",
        Body="\n".join(csv).encode(),
    )
    code, body = api(outputs, "POST", "/admin/feeds/sync", {"business_date": business_date.isoformat()})
    assert code == 200 and body["status"] == "completed", body
    return {**ids, "employee": small_kana, "other_employee": other, "used": used.replace("/", "-"),
            "leftover": f"コンビニ {suffix}", "amount": str(leftover)}  # fmt: skip


def test_the_tenant_admin_fixes_a_line_the_sync_could_not_match(outputs: dict[str, Any], page: Any) -> None:
    console = outputs["ConsoleUrl"]
    lines = feed_lines(outputs)
    sign_in(page, console, "tenant-admin-demo")
    page.get_by_role("link", name=f"カード明細のエラーデータ ({TENANT})").click()
    check(page, "tenant-card-errors")
    card = page.locator(f"div[id$=':{lines['small_kana']}']")  # the line's card: id="line-{line id}"
    assert "name_small_kana" in card.inner_text()
    assert "ガッコウ ハナコ" in card.inner_text() and "ガツコウ ハナコ" in card.inner_text()  # compared
    card.get_by_role("button", name="修正案を適用する").click()
    page.get_by_role("status").wait_for()
    check(page, "tenant-fix-applied")
    page.get_by_role("button", name="再マッチングする").click()
    page.get_by_text("再マッチングしました。").wait_for()
    assert page.locator(f"div[id$=':{lines['small_kana']}']").count() == 0  # no longer error data

    page.get_by_role("link", name="ホーム").click()
    page.get_by_role("link", name=f"カード明細（後から紐付け） ({TENANT})").click()
    page.get_by_label("社員").select_option(lines["employee"])
    page.get_by_role("button", name="表示").click()
    check(page, "tenant-matched-line")
    assert page.get_by_role("row").filter(has_text="タリーズコーヒー").count() == 1  # matched to them
    assert visit(page, f"{console}/tenants/tenant_other/card-errors", "tenant-forbidden").status == 403


def test_the_employee_excludes_a_leftover_and_asks_why_by_keyboard(
    outputs: dict[str, Any], page: Any
) -> None:
    """The employee's flow with the keyboard only: Tab moves through the visible controls in order."""
    console = outputs["ConsoleUrl"]
    lines = feed_lines(outputs)
    sign_in(page, console, "employee-demo-e001")
    page.get_by_role("link", name=MY_LINES).click()
    check(page, "employee-lines")
    assert page.get_by_role("row").filter(has_text=lines["leftover"]).count() == 1
    assert page.get_by_text("書店 渋谷").count() == 0  # another employee's line is not listed
    assert (
        visit(page, f"{console}/tenants/{TENANT}/card-lines?employee_code={lines['other_employee']}").status
        == 403
    )
    visit(page, f"{console}/me/card-lines")

    exclude = f"対象外にする: {lines['used']} {lines['leftover']}"
    page.keyboard.press("Tab")
    assert _focused(page) == ("A", "本文へ移動")  # the skip link first
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    assert _tab_until(page, exclude) == _controls_in_main(page, until=exclude)  # in document order
    page.keyboard.press("Space")
    page.get_by_text("対象外にしました。").wait_for()
    check(page, "employee-excluded")
    assert (
        page.get_by_role("row").filter(has_text=lines["leftover"]).get_by_role("cell", name="対象外").count()
        == 1
    )

    _tab_until(page, "利用日")
    year, month, day = lines["used"].split("-")
    # a date field's parts follow chromium's own locale, not the page's: headless Debian chromium
    # lays them out month/day/year; each part's last digit moves to the next part
    page.keyboard.type(month + day + year)
    assert page.get_by_label("利用日").input_value() == lines["used"], "chromium's date order changed"
    _tab_until(page, "金額（任意）")
    page.keyboard.type(lines["amount"])
    page.keyboard.press("Tab")
    assert _focused(page) == ("BUTTON", "原因を調べる")
    page.keyboard.press("Enter")
    page.locator("#diagnosis").wait_for()
    check(page, "employee-diagnosis")
    assert "excluded" in page.locator("#diagnosis").inner_text()


def _focused(page: Any) -> tuple[str, str]:
    """The focused element's tag and accessible name (aria-label, its label's text, or its text)."""
    tag, name = page.evaluate(
        "() => { const e = document.activeElement;"
        " const label = e.getAttribute('aria-label')"
        " || (e.labels && e.labels[0] && e.labels[0].innerText) || e.innerText || '';"
        " const box = e.getBoundingClientRect();"
        " return [e.tagName, box.width > 0 && box.height > 0 ? label.trim() : ''] }"
    )
    return str(tag), str(name)


def _controls_in_main(page: Any, until: str) -> list[tuple[str, str]]:
    """The visible controls of ``main`` in document order, up to the one named ``until``."""
    names: list[list[str]] = page.eval_on_selector_all(
        "main a[href], main button, main input:not([type=hidden]), main select, main textarea",
        "els => els.filter(e => { const b = e.getBoundingClientRect(); return b.width > 0 && b.height > 0 })"
        ".map(e => [e.tagName, (e.getAttribute('aria-label')"
        " || (e.labels && e.labels[0] && e.labels[0].innerText) || e.innerText || '').trim()])",
    )
    controls = [(str(tag), str(name)) for tag, name in names]
    return controls[: [name for _, name in controls].index(until) + 1]


def _tab_until(page: Any, name: str, limit: int = 40) -> list[tuple[str, str]]:
    """Tab until the control named ``name`` has focus; every stop on the way must be visible."""
    seen: list[tuple[str, str]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focused(page)
        assert focused[1], f"focus landed on an invisible or unnamed control after {seen}"
        seen.append(focused)
        if focused[1] == name:
            return seen
    raise AssertionError(f"{name!r} not reached with Tab: {seen}")


def test_a_page_switches_to_english(outputs: dict[str, Any], page: Any) -> None:
    console = outputs["ConsoleUrl"]
    sign_in(page, console, "employee-demo-e001")
    visit(page, f"{console}/me/card-lines")
    page.get_by_role("link", name="English").click()
    check(page, "employee-lines-en")
    assert page.get_by_role("heading", name="My card lines", level=1).count() == 1
    assert page.get_by_role("button", name="Find the cause").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"
