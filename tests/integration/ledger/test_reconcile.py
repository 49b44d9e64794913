"""The ledger reconciliation on moto (issue 11 item 2): repair, idempotence, what it cannot decide,
and its three ways in (the use case, the admin route, the daily function), each under its IAM role."""

from __future__ import annotations

from datetime import timedelta

from cardops.kernel import clock
from cardops.ledger.domain.ledger import Channel
from cardops.ledger.reconcile import reconcile_store
from cardops.ledger.store import LedgerStore
from cardops.ledger.wiring import ledger_listener, reconcile_deps
from cardops.payments.domain.payments import Applied
from cardops.sandbox.lambda_runner import FakeContext
from tests.conftest import load_event
from tests.fixtures_ledger import sale
from tests.helpers import call, change_feed, counting_aws_calls
from tests.integration.ledger.conftest import CapturePayment, as_change

FEE_10000 = 470


def lost(applied: Applied) -> Applied:
    """The change of a capture written but set aside by the feed: its listeners never ran."""
    change_feed().skip()
    return applied


def balance(store_id: str) -> int:
    return LedgerStore().load(store_id, Channel.STANDARD).ledger.balance


def test_a_capture_whose_listener_never_ran_is_repaired_once(captured: CapturePayment) -> None:
    applied = lost(captured(payment_id="pay_lost", store_id="store-r", post_ledger=False))
    captured(payment_id="pay_fine", store_id="store-r")
    report = reconcile_store("store-r", reconcile_deps(), now=clock.now(), actor="test")
    assert report.checked_payments == 2 and report.repaired_entries == 2
    assert [(d.payment, d.kind, d.repaired) for d in report.differences] == [
        ("sandbox/pay_lost", "sale", True),
        ("sandbox/pay_lost", "fee", True),
    ]
    assert report.ledger_side == report.payments_side
    assert balance("store-r") == 2 * (10_000 - FEE_10000)
    again = reconcile_store("store-r", reconcile_deps(), now=clock.now(), actor="test")
    assert again.repaired_entries == 0 and again.differences == ()
    ledger_listener(as_change(applied))  # the listener finally runs: same ids, nothing doubles
    assert balance("store-r") == 2 * (10_000 - FEE_10000)


def test_reads_are_by_store_and_by_key(captured: CapturePayment) -> None:
    for n in range(5):
        captured(payment_id=f"pay_{n}", store_id="store-keys")
    captured(payment_id="pay_other", store_id="store-elsewhere")
    with counting_aws_calls() as calls:
        report = reconcile_store("store-keys", reconcile_deps(), now=clock.now(), actor="test")
    assert report.checked_payments == 5 and report.repaired_entries == 0
    assert "dynamodb:Scan" not in calls
    # one index query for the store, then per payment: its refunds (query) and its entries (one batch)
    assert calls["dynamodb:Query"] == 1 + 5
    assert calls["dynamodb:BatchGetItem"] == 5


def test_changed_since_reads_only_recent_payments(captured: CapturePayment) -> None:
    now = clock.now()
    lost(
        captured(
            payment_id="pay_old", store_id="store-s", captured_at=now - timedelta(days=9), post_ledger=False
        )
    )
    lost(
        captured(
            payment_id="pay_new", store_id="store-s", captured_at=now - timedelta(hours=1), post_ledger=False
        )
    )
    recent = reconcile_store(
        "store-s", reconcile_deps(), now=now, actor="test", changed_since=now - timedelta(days=2)
    )
    assert {d.payment for d in recent.differences} == {"sandbox/pay_new"}
    full = reconcile_store("store-s", reconcile_deps(), now=now, actor="test")
    assert {d.payment for d in full.differences} == {"sandbox/pay_old"}


def test_an_entry_posted_with_other_facts_is_reported_not_overwritten(captured: CapturePayment) -> None:
    applied = lost(captured(payment_id="pay_wrong", store_id="store-w", post_ledger=False))
    wrong = sale(
        9_000,
        captured_at=applied.payment.facts.captured_at or clock.now(),
        payment_id="pay_wrong",
        store_id="store-w",
        provider="sandbox",
    )
    LedgerStore().post(wrong)
    report = reconcile_store("store-w", reconcile_deps(), now=clock.now(), actor="test")
    assert report.repaired_entries == 0
    assert {(d.kind, d.finding.value, d.expected, d.posted) for d in report.unresolved} == {
        ("sale", "mismatch", 10_000, 9_000),
        ("fee", "mismatch", -FEE_10000, -423),
    }
    assert balance("store-w") == 9_000 - 423


def test_admin_route_reconciles_under_the_admin_role(captured: CapturePayment) -> None:
    from cardops.handlers import admin

    lost(captured(payment_id="pay_api", store_id="store-api", post_ledger=False))
    status, body = call(admin.handler, "POST", "/admin/stores/store-api/ledger/reconcile", {})
    assert status == 200, body
    assert (body["repaired_entries"], body["unresolved_count"]) == (2, 0)
    assert (
        body["payments_side"] == body["ledger_side"] == {"captured": 10_000, "refunded": 0, "charged_back": 0}
    )
    from cardops.sandbox.gateway import sandbox_user_arn

    statement = LedgerStore().load("store-api", Channel.STANDARD).ledger.entries
    assert {e.recorded_by for e in statement} == {sandbox_user_arn()}  # who repaired is on record
    status, body = call(admin.handler, "POST", "/admin/stores/store-api/ledger/reconcile", {})
    assert (status, body["repaired_entries"]) == (200, 0)
    status, body = call(
        admin.handler,
        "POST",
        "/admin/stores/store-api/ledger/reconcile",
        {"changed_since": "2026-01-01T00:00:00"},
    )
    assert status == 422, body  # a time without its zone is refused, clearly


def test_the_daily_function_reconciles_every_store_under_its_role(captured: CapturePayment) -> None:
    from cardops.handlers import reconcile

    lost(captured(payment_id="pay_d1", store_id="store-d1", post_ledger=False, captured_at=clock.now()))
    lost(captured(payment_id="pay_d2", store_id="store-d2", post_ledger=False, captured_at=clock.now()))
    result = reconcile.handler(load_event("reconcile/schedule_event.json"), FakeContext("reconcile"))
    assert (result["stores"], result["repaired_entries"], result["unresolved"]) == (2, 4, [])
    one = reconcile.handler(
        load_event("reconcile/one_store.json") | {"store_id": "store-d1"}, FakeContext("reconcile")
    )
    assert (one["stores"], one["payments"], one["repaired_entries"]) == (1, 1, 0)
    assert balance("store-d1") == balance("store-d2") == 10_000 - FEE_10000
