"""The console's request plumbing: CSRF tokens, forms, amounts, deadline badges, the stage prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardops.console.store_pages import badge
from cardops.console.web import (
    BadForm,
    CsrfRejected,
    check_csrf,
    check_login_token,
    cookies_of,
    csrf_token,
    identifier,
    money,
    optional_amount,
    parse_form,
    signed_amount,
)

NOW = datetime(2026, 5, 7, 3, 0, tzinfo=UTC)


def test_a_csrf_token_is_bound_to_its_session() -> None:
    check_csrf("session-a", csrf_token("session-a"))
    for submitted in (None, "", csrf_token("session-b"), csrf_token("session-a")[:-1]):
        with pytest.raises(CsrfRejected):
            check_csrf("session-a", submitted)


def test_the_sign_in_token_must_match_the_browsers_cookie() -> None:
    check_login_token("nonce", "nonce")
    for expected, submitted in ((None, "nonce"), ("nonce", None), ("nonce", "other"), ("", "")):
        with pytest.raises(CsrfRejected):
            check_login_token(expected, submitted)


@pytest.mark.parametrize(
    ("text", "amount"), [("5000", 5000), ("5,000", 5000), (" 12000 ", 12000), ("", None), (None, None)]
)
def test_amounts_are_whole_positive_numbers(text: str | None, amount: int | None) -> None:
    assert optional_amount(text, "amount", maximum=10**9) == amount


@pytest.mark.parametrize("text", ["-1", "0", "1e3", "5000.5", "５０００", "NaN", "10000000000", "１"])
def test_anything_else_is_a_clear_refusal(text: str) -> None:
    with pytest.raises(BadForm, match="amount"):
        optional_amount(text, "amount", maximum=10**9)


def test_forms_refuse_repeated_fields_and_identifiers_are_checked() -> None:
    assert parse_form("a=1&b=%E3%81%82") == {"a": "1", "b": "あ"}
    with pytest.raises(BadForm):
        parse_form("amount=1&amount=100000")
    assert identifier("store_042", "store_id") == "store_042"
    for bad in ("", "../x", "a b", "<script>", None):
        with pytest.raises(BadForm):
            identifier(bad, "store_id")


def test_a_malformed_cookie_header_is_no_session() -> None:
    assert cookies_of({"Cookie": "cardops_console=abc; cardops_lang=en"}) == {
        "cardops_console": "abc",
        "cardops_lang": "en",
    }
    assert cookies_of({"cookie": 'bad"cookie=\\'}) == {}
    assert cookies_of({}) == {}


def test_badges_follow_the_reminder_offsets() -> None:
    assert badge(NOW - timedelta(minutes=1), NOW) == "overdue"
    assert badge(NOW + timedelta(hours=23), NOW) == "today"
    assert badge(NOW + timedelta(hours=71), NOW) == "soon"
    assert badge(NOW + timedelta(hours=73), NOW) == "ok"
    assert badge(None, NOW) == "ok"


def test_money_in_minor_units() -> None:
    assert money(12000, "JPY") == "¥12,000"
    assert money(-3000, "JPY") == "-¥3,000"
    assert money(-1050, "USD") == "-10.50 USD"
    assert money(None) == "—"


def test_an_adjustment_may_take_money_but_never_nothing() -> None:
    assert signed_amount("-3,000", "amount", maximum=10**9) == -3000
    assert signed_amount("−500", "amount", maximum=10**9) == -500
    assert signed_amount("700", "amount", maximum=10**9) == 700
    for bad in ("", "-", "0", "-0", "--5", "+5", "1.5"):
        with pytest.raises(BadForm):
            signed_amount(bad, "amount", maximum=10**9)


def test_a_choice_is_one_of_the_listed_values_or_the_named_refusal() -> None:
    from cardops.console.web import BadForm, choice
    from cardops.ledger.domain.ledger import Channel
    from cardops.payments.domain.refunds import RefundReason

    assert choice("standard", Channel, "channel is not a payment channel") is Channel.STANDARD
    assert choice(RefundReason("other").value, RefundReason, "x") is RefundReason("other")
    for sent in (None, "", "STANDARD", "standard ", "<script>"):
        with pytest.raises(BadForm, match=r"^channel is not a payment channel$"):
            choice(sent, Channel, "channel is not a payment channel")
