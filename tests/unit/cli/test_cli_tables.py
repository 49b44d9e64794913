"""What the CLI's tables show people: Tokyo minutes, status moves, links between payments and refunds."""

from __future__ import annotations

from typing import Any

import pytest

from cardops.cli.commands import payment_text
from cardops.cli.feed_commands import refund_link
from cardops.cli.refund_commands import refund_text, refunds_table
from cardops.cli.settlement_commands import settlement_text
from cardops.cli.tables import render, tokyo_time, transition


def test_deadlines_are_tokyo_minutes_with_the_zone() -> None:
    # the capture deadline is the last instant of a Tokyo day, stored in UTC with microseconds
    assert tokyo_time("2026-12-17T14:59:59.999999Z") == "2026-12-17 23:59 JST"
    assert tokyo_time("2026-12-17T15:00:00+00:00") == "2026-12-18 00:00 JST"
    assert tokyo_time(None) == "—"


def test_a_timestamp_without_zone_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="without a zone"):
        tokyo_time("2026-12-17T14:59:59")


def test_the_first_history_entry_reads_as_created() -> None:
    assert transition(None, "authorized") == "— → authorized"
    assert transition("authorized", "captured") == "authorized → captured"


def test_columns_fit_wide_characters() -> None:
    table = render(("name", "amount"), [("山田", 12000), ("ab", 5)], right=(1,))
    lines = table.splitlines()
    assert lines == ["name  amount", "山田   12000", "ab         5"]


def _payment(**extra: Any) -> dict[str, Any]:
    return {
        "provider": "payjp", "provider_payment_id": "ch_new", "status": "captured", "currency": "JPY",
        "amount": 12000, "authorized_amount": 12000, "captured_amount": 12000, "refunded_amount": 0,
        "capture_deadline": "2026-12-17T14:59:59.999999Z", "deadline_bound": "business",
        "store_id": "store_1", "reservation_id": "rsv_1", "visit_date": "2026-12-10",
        "history": [
            {"seq": 1, "at": "2026-12-01T01:02:03.456789Z", "actor": "webhook", "event_id": "e1",
             "kind": "authorized", "from_status": None, "to_status": "authorized",
             "captured_amount": 0, "refunded_amount": 0},
            {"seq": 2, "at": "2026-12-02T01:02:03Z", "actor": "admin", "event_id": "e2",
             "kind": "captured", "from_status": "authorized", "to_status": "captured",
             "captured_amount": 12000, "refunded_amount": 0},
        ],
        **extra,
    }  # fmt: skip


def test_payment_view_reads_without_none_and_utc() -> None:
    text = payment_text(_payment())
    assert "None" not in text and "->" not in text
    assert "— → authorized" in text and "authorized → captured" in text
    assert "2026-12-17 23:59 JST (business bound)" in text
    assert "2026-12-01 10:02 JST" in text
    assert ".999999" not in text and "14:59" not in text
    assert "notices sent: none" in text


def test_payment_view_shows_both_re_payment_links_and_the_notices_sent() -> None:
    link = {
        "provider": "payjp",
        "provider_payment_id": "ch_old",
        "request_id": "rq_1",
        "at": "2026-12-03T00:00:00Z",
    }
    text = payment_text(
        _payment(
            repayment_of=link,
            repaid_by=[{**link, "provider_payment_id": "ch_newer", "request_id": "rq_2"}],
            notices=[
                {"kind": "capture_reminder", "audience": "store", "at": "2026-12-14T14:59:59Z",
                 "event_key": "k1", "hours_before": 72, "capture_deadline": "2026-12-17T14:59:59Z"},
                {"kind": "expired_refunded", "audience": "customer", "at": "2026-12-17T15:00:01Z",
                 "event_key": "k2", "hours_before": None, "capture_deadline": "2026-12-17T14:59:59Z"},
            ],
        )
    )  # fmt: skip
    assert "re-payment of     payjp/ch_old (request rq_1)" in text
    assert "re-paid by        payjp/ch_newer (request rq_2)" in text
    assert "capture reminder" in text and "72 h before" in text and "2026-12-14 23:59 JST" in text
    assert "automatic refund notice" in text and "customer" in text


REFUND = {
    "refund_id": "rf_new", "provider": "payjp", "provider_payment_id": "ch_1", "store_id": "store_1",
    "channel": "standard", "currency": "JPY", "amount": 800, "reason": "overcharge", "note": "",
    "status": "requested", "version": 1, "created_at": "2026-12-01T00:00:00Z",
    "updated_at": "2026-12-01T00:00:00Z", "provider_refund_id": None, "card_expired": False,
    "replaces": "rf_old", "replaced_by": None,
    "history": [{"at": "2026-12-01T00:00:00Z", "actor": "admin", "from_status": None,
                 "to_status": "requested", "note": "replaces rf_old"}],
}  # fmt: skip


def test_a_refund_names_the_payment_it_refunds_and_what_it_replaced() -> None:
    text = refund_text(REFUND)
    assert "refunds payment  payjp/ch_1" in text
    assert "replaces         rf_old" in text
    assert "— → requested" in text and "2026-12-01 09:00 JST" in text
    table = refunds_table(
        [REFUND, {**REFUND, "refund_id": "rf_old", "replaces": None, "replaced_by": "rf_new"}]
    )
    assert "payjp/ch_1" in table and "replaced by rf_new" in table and "replaces rf_old" in table
    assert refunds_table([]) == "(no refunds)"


def test_settlement_says_what_was_paid_or_carried_forward() -> None:
    carried = {
        "settlement_id": "st_1", "store_id": "store_1", "channel": "standard", "currency": "JPY",
        "confirmed": -8000, "pending_netted": 5000, "net": -3000, "outcome": "carried_forward",
        "carried_forward": -3000, "payout": None,
    }  # fmt: skip
    text = settlement_text(carried)
    assert "nothing paid; the rest carries forward" in text and "-3000 JPY" in text
    paid = {**carried, "net": 9500, "outcome": "paid", "carried_forward": 0,
            "payout": {"payout_id": "po_1", "scheduled_for": "2027-01-15", "gross": 10000,
                       "transfer_fee": 500, "net": 9500}}  # fmt: skip
    assert "2027-01-15" in settlement_text(paid) and "10000 / 500 / 9500 JPY" in settlement_text(paid)


def test_a_refund_card_line_shows_its_purchase_or_the_candidates() -> None:
    assert refund_link({"refund_line_id": "G-0202", "status": "linked", "purchase_line_id": "G-0200"}) == (
        "  (refunds G-0200)"
    )
    ambiguous = {"refund_line_id": "r", "status": "ambiguous", "candidate_line_ids": ["a", "b"]}
    assert refund_link(ambiguous) == "  (refund of one of: a, b)"
    assert refund_link(None) == ""


def test_feed_runs_show_skips_with_the_holiday_and_the_next_sync() -> None:
    from cardops.cli.employee_commands import runs_table

    skipped = {"business_date": "2026-05-05", "status": "skipped_holiday", "holiday_name": "こどもの日",
               "lines_read": 0, "matched": 0, "errors": 0, "duplicates": 0, "window_until": None,
               "next_sync_date": "2026-05-07"}  # fmt: skip
    table = runs_table([skipped])
    assert "skipped_holiday (こどもの日)" in table and "2026-05-07" in table
    assert runs_table([]) == "(no runs)"
