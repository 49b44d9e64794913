"""The store pages over the console's handler (issue 15 items 1–3): the admin API's use cases, the
policy on every record, CSRF on every form, the console user recorded on every change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cardops.console.tokens import SandboxIssuer, generate_sandbox_key
from cardops.console.web import MAX_PAGE_BYTES
from tests.integration.console.conftest import FINANCE, Browser, Page, store_admin, text_of
from tests.integration.deadline.conftest import RecordingProvider, authorize

STORE = "store-1"  # the store ``authorize`` books on
PAYMENT = "/console/payments/payjp/pay_console_1"


def small(page: Page) -> Page:
    assert len(page.body.encode()) < MAX_PAGE_BYTES
    return page


def payment_status(payment_id: str = "pay_console_1") -> Any:
    from cardops.payments.store.payments import PaymentRepository

    found = PaymentRepository().get_with_history("payjp", payment_id)
    assert found is not None
    return found


def test_without_a_session_every_page_is_the_sign_in(console: SandboxIssuer) -> None:
    anonymous = Browser(console, None)
    for path in ("/console", f"/console/stores/{STORE}", PAYMENT):
        page = anonymous.get(path)
        assert page.status == 303 and page.location == "/console/login", path
    # the sandbox signs in through its user switcher
    assert anonymous.get("/console/login").location == "/console/sandbox/login"
    switcher = anonymous.get("/console/sandbox/login")
    assert switcher.status == 200 and "store-admin-042" in switcher.body
    # a forged cookie is no session
    forged = Browser(SandboxIssuer.from_json(generate_sandbox_key()), store_admin(STORE))
    assert forged.get(f"/console/stores/{STORE}").status == 303


def test_a_store_admin_captures_part_of_an_authorization_after_confirming(
    console: SandboxIssuer, provider: RecordingProvider
) -> None:
    from cardops.kernel import clock

    authorize(provider, "pay_console_1", visit_date=(clock.now() + timedelta(days=1)).date(), amount=12000,
              start_workflow=False)  # fmt: skip
    admin = Browser(console, store_admin(STORE))
    dashboard = small(admin.get(f"/console/stores/{STORE}"))
    assert dashboard.status == 200
    assert 'id="uncaptured-count">1<' in dashboard.body and "pay_console_1" in dashboard.body
    assert "未認証の売上" in dashboard.body  # Japanese first
    assert "Uncaptured sales" in small(admin.get(f"/console/stores/{STORE}/uncaptured?lang=en")).body

    detail = small(admin.get(PAYMENT))
    assert detail.status == 200 and "capture-amount" in detail.body
    review = small(admin.post(f"{PAYMENT}/capture", {"step": "review", "amount": "5,000"}))
    assert review.status == 200 and "¥5,000" in text_of(review)
    assert provider.count("capture", "pay_console_1") == 0  # reviewing moves nothing

    done = admin.post(f"{PAYMENT}/capture", {"step": "confirm", "amount": "5000"})
    assert done.status == 303 and done.location == f"{PAYMENT}?done=capture"
    payment, history = payment_status()
    assert payment.status.value == "captured" and payment.facts.captured_amount == 5000
    assert history[-1].actor == f"console:admin-{STORE}"
    assert "console:admin-store-1" in small(admin.get(f"{PAYMENT}?done=capture")).body


def test_forms_without_this_sessions_csrf_token_change_nothing(
    console: SandboxIssuer, provider: RecordingProvider
) -> None:
    from cardops.kernel import clock

    authorize(provider, "pay_console_1", visit_date=(clock.now() + timedelta(days=1)).date(),
              start_workflow=False)  # fmt: skip
    admin = Browser(console, store_admin(STORE))
    missing = admin.post(f"{PAYMENT}/capture", {"step": "confirm"}, csrf=False)
    other_session = Browser(console, store_admin(STORE))
    other_session.token = console.issue({**store_admin(STORE), "sub": "someone"}, now=clock.now())
    stolen = admin.request("POST", f"{PAYMENT}/capture", {"step": "confirm", "csrf": other_session.csrf})
    assert missing.status == stolen.status == 403
    assert provider.count("capture", "pay_console_1") == 0
    assert payment_status()[0].status.value == "authorized"


def test_another_stores_admin_gets_the_forbidden_page_and_changes_nothing(
    console: SandboxIssuer, provider: RecordingProvider
) -> None:
    from cardops.kernel import clock

    authorize(provider, "pay_console_1", visit_date=(clock.now() + timedelta(days=1)).date(),
              start_workflow=False)  # fmt: skip
    intruder = Browser(console, store_admin("store-2"))
    for page in (
        intruder.get(PAYMENT),
        intruder.get(f"/console/stores/{STORE}"),
        intruder.get(f"/console/stores/{STORE}/balance"),
        intruder.post(f"{PAYMENT}/capture", {"step": "confirm"}),
        intruder.post(f"{PAYMENT}/refunds", {"step": "confirm", "amount": "100", "reason": "other"}),
    ):
        assert page.status == 403
        # nothing of the payment shows (the language link repeats the path the user typed, no more)
        assert "12,000" not in page.body and "payment-status" not in page.body and "rsv-" not in page.body
    assert provider.count("capture", "pay_console_1") == 0
    # a provider the registry does not know is no page at all, whoever asks
    unknown = Browser(console, store_admin(STORE)).get(PAYMENT.replace("/payments/payjp/", "/payments/acme/"))
    assert unknown.status == 404 and "12,000" not in unknown.body


def test_a_payout_shows_its_date_before_it_is_requested(console: SandboxIssuer) -> None:
    from cardops.kernel import clock
    from cardops.ledger.domain.ledger import AdjustmentReason, Channel
    from cardops.ledger.domain.payouts import payout_date_at
    from cardops.ledger.wiring import ledger_service

    ledger_service().adjust(
        STORE, Channel.STANDARD, "JPY", adjustment_id="seed", amount=20000,
        reason=AdjustmentReason.OTHER, memo="test", now=clock.now() - timedelta(days=40), actor="test",
    )  # fmt: skip
    admin = Browser(console, store_admin(STORE))
    preview = small(admin.get(f"/console/stores/{STORE}/payout"))
    assert preview.status == 200
    expected = payout_date_at(clock.now()).isoformat()
    assert f'id="payout-date">{expected}<' in preview.body
    assert ledger_service().balances(STORE, now=clock.now())[0].balance == 20000  # nothing posted yet
    request_id = preview.body.split('name="request_id" value="')[1].split('"')[0]
    done = admin.post(f"/console/stores/{STORE}/payout", {"request_id": request_id, "channel": "standard",
                                                          "currency": "JPY"})  # fmt: skip
    assert done.status == 200 and expected in done.body
    statement = ledger_service().statement(STORE, Channel.STANDARD, "JPY", now=clock.now())
    assert statement.summary.balance == 0
    assert {e.recorded_by for e in statement.entries if e.kind.value != "adjustment"} == {
        f"console:admin-{STORE}"
    }
    # finance sees the statement of any store, newest first
    page = small(Browser(console, FINANCE).get(f"/console/stores/{STORE}/statement"))
    assert page.status == 200 and f"console:admin-{STORE}" in page.body


def test_finance_adjusts_with_a_reason_code_after_confirming_and_store_admins_cannot(
    console: SandboxIssuer,
) -> None:
    from cardops.kernel import clock
    from cardops.ledger.domain.ledger import Channel
    from cardops.ledger.wiring import ledger_service

    form = {"channel": "standard", "currency": "JPY", "amount": "-3,000", "reason": "tax_rate_change",
            "memo": "税率変更"}  # fmt: skip
    store = Browser(console, store_admin(STORE))
    assert "adjust-amount" not in store.get(f"/console/stores/{STORE}/balance").body
    assert store.post(f"/console/stores/{STORE}/adjustments", {**form, "step": "review"}).status == 403
    finance = Browser(console, FINANCE)
    assert "adjust-amount" in finance.get(f"/console/stores/{STORE}/balance").body
    review = small(finance.post(f"/console/stores/{STORE}/adjustments", {**form, "step": "review"}))
    assert review.status == 200 and "-¥3,000" in review.body
    assert ledger_service().balances(STORE, now=clock.now()) == []  # reviewing posts nothing
    adjustment_id = review.body.split('name="adjustment_id" value="')[1].split('"')[0]
    confirm = {**form, "step": "confirm", "amount": "-3000", "adjustment_id": adjustment_id}
    for _ in range(2):  # a repeated confirmation posts once
        done = finance.post(f"/console/stores/{STORE}/adjustments", confirm)
        assert done.status == 303 and done.location.endswith("/balance?done=adjust")
    entries = ledger_service().statement(STORE, Channel.STANDARD, "JPY", now=clock.now()).entries
    assert [(e.amount, e.reason.value if e.reason else None, e.recorded_by) for e in entries] == [
        (-3000, "tax_rate_change", "console:finance-1")
    ]
    shortfall = finance.get(f"/console/stores/{STORE}/balance")
    assert "¥3,000" in text_of(shortfall)  # the negative balance's shortfall is shown
