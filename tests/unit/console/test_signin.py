"""A started sign-in's cookie: read back only for its own step, before it expires, and never shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardops.console.signin import (
    CHALLENGE_SECONDS,
    ChallengeExpired,
    Pending,
    SignedIn,
    Step,
    WrongCode,
    pending_cookie_value,
    pending_of,
    valid_code,
)

NOW = datetime(2026, 5, 7, 3, 0, tzinfo=UTC)
PENDING = Pending(Step.MFA, "a@example.jp", "cognito-session-" + "x" * 40)


def test_the_cookie_gives_back_the_sign_in_until_it_expires() -> None:
    value = pending_cookie_value(PENDING, now=NOW)
    assert pending_of(value, Step.MFA, now=NOW + timedelta(seconds=CHALLENGE_SECONDS - 1)) == PENDING
    with pytest.raises(ChallengeExpired, match="expired"):
        pending_of(value, Step.MFA, now=NOW + timedelta(seconds=CHALLENGE_SECONDS))


@pytest.mark.parametrize("value", [None, "", "!!", "e30", "bm90IGpzb24", "eyJrIjoibWZhIn0"])
def test_a_missing_or_unreadable_cookie_starts_again(value: str | None) -> None:
    with pytest.raises(ChallengeExpired):
        pending_of(value, Step.MFA, now=NOW)


def test_a_cookie_opens_only_its_own_steps_page() -> None:
    value = pending_cookie_value(PENDING, now=NOW)
    with pytest.raises(ChallengeExpired, match="not at new-password"):
        pending_of(value, Step.NEW_PASSWORD, now=NOW)


def test_a_code_is_six_digits() -> None:
    assert valid_code(" 123 456 ") == "123456"
    for wrong in ("", "12345", "1234567", "12a456", "１２３４５６"):
        with pytest.raises(WrongCode):
            valid_code(wrong)


def test_no_session_or_token_in_a_repr() -> None:
    assert "cognito-session" not in repr(PENDING) and "a@example.jp" not in repr(PENDING)
    assert "eyJ" not in repr(SignedIn("eyJhbGciOi.token"))
