"""Signing in deployed: the password, then the challenges Cognito answers with, page by page.

An operator creates each user with a temporary password, so the first sign-in is answered with
``NEW_PASSWORD_REQUIRED``; the pool requires TOTP MFA, so a user without an authenticator app is
then asked to set one up (``MFA_SETUP``) and every later sign-in asks for its code
(``SOFTWARE_TOKEN_MFA``). Between those pages the console carries Cognito's ``Session`` (Cognito's
own opaque value, bound to the user and valid for three minutes) in a short-lived cookie: HttpOnly,
SameSite=Strict, scoped to the console, with its own expiry checked here before Cognito is asked,
and every form posting it carries the sign-in token (``web.check_login_token``). Nothing here logs
a password, a code, a session or a token.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

#: how long a started sign-in may wait for its next answer (the app client's auth session validity)
CHALLENGE_SECONDS = 180


class SignInFailed(Exception):
    """Cognito refused the user name and password (shown on the sign-in page, not as an error page)."""


class WrongCode(Exception):
    """The authenticator code was not the expected one: the same page again, the sign-in continues."""


class PasswordRefused(Exception):
    """The new password does not meet the pool's policy (or the two entries differ): try another."""


class ChallengeExpired(Exception):
    """The started sign-in is gone (expired, already used, or never started): start again."""


class Step(StrEnum):
    """The page a started sign-in continues on (its path under ``/console/login/``)."""

    NEW_PASSWORD = "new-password"  # noqa: S105 - a page's path, not a password
    MFA = "mfa"
    MFA_SETUP = "mfa-setup"


#: Cognito's challenge names and the page that answers each
STEP_OF_CHALLENGE = {
    "NEW_PASSWORD_REQUIRED": Step.NEW_PASSWORD,
    "SOFTWARE_TOKEN_MFA": Step.MFA,
    "MFA_SETUP": Step.MFA_SETUP,
}


@dataclass(frozen=True)
class Pending:
    """A sign-in waiting for its next answer: the page, whose it is, and Cognito's session."""

    step: Step
    username: str
    session: str

    def __repr__(self) -> str:  # the session is a credential for three minutes: never in a log line
        return f"Pending(step={self.step.value!r}, username=<hidden>, session=<hidden>)"


@dataclass(frozen=True)
class SignedIn:
    """The sign-in finished: the ID token the session cookie will hold."""

    id_token: str

    def __repr__(self) -> str:
        return "SignedIn(id_token=<hidden>)"


Outcome = SignedIn | Pending


class Authenticator(Protocol):
    """The user pool's sign-in (Cognito deployed; a fake in the unit tests)."""

    def start(self, username: str, password: str) -> Outcome: ...

    def new_password(self, pending: Pending, password: str) -> Outcome: ...

    def mfa_code(self, pending: Pending, code: str) -> Outcome: ...

    def mfa_secret(self, pending: Pending) -> tuple[str, Pending]:
        """The secret key the user enters in an authenticator app (and the session to continue)."""
        ...

    def mfa_setup(self, pending: Pending, code: str) -> Outcome: ...


def pending_cookie_value(pending: Pending, *, now: datetime) -> str:
    """The cookie's value: the step, the user, Cognito's session and when it stops being accepted."""
    data = {
        "k": pending.step.value,
        "u": pending.username,
        "s": pending.session,
        "e": int(now.timestamp()) + CHALLENGE_SECONDS,
    }
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def pending_of(value: str | None, step: Step, *, now: datetime) -> Pending:
    """The sign-in the cookie carries, if it is for ``step`` and not expired; else start again."""
    if not value:
        raise ChallengeExpired("no sign-in was started in this browser")
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        pending = Pending(Step(data["k"]), str(data["u"]), str(data["s"]))
        expires = int(data["e"])
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ChallengeExpired("the started sign-in could not be read") from exc
    if expires <= int(now.timestamp()):
        raise ChallengeExpired("the started sign-in expired")
    if pending.step is not step or not pending.username or not pending.session:
        raise ChallengeExpired(f"the started sign-in is not at {step.value}")
    return pending


def valid_code(code: str) -> str:
    """An authenticator code is six digits; anything else is refused before Cognito is asked."""
    text = code.strip().replace(" ", "")
    if len(text) != 6 or not text.isdigit() or not text.isascii():
        raise WrongCode("the code is six digits")
    return text
