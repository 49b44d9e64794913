"""Signing in deployed, against moto's Cognito user pool (MFA required, TOTP): the first sign-in sets
a new password and an authenticator, later ones ask for its code; a wrong code says so and lets the
user try again, a started sign-in that expired or that Cognito no longer knows starts over, and no
password, code, session, secret or token reaches the logs.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import moto.cognitoidp
import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from joserfc.jwk import KeySet
from moto import mock_aws
from moto.cognitoidp.utils import cognito_totp

from cardops.console.app import CHALLENGE_COOKIE, ConsoleDeps, build
from cardops.console.cognito import CognitoAuthenticator
from cardops.console.signin import CHALLENGE_SECONDS
from cardops.console.tokens import StaticJwks, Verifier, cognito_issuer
from cardops.console.web import MAX_PAGE_BYTES, SESSION_COOKIE
from cardops.sandbox.gateway import api_gateway_event
from cardops.sandbox.lambda_runner import FakeContext

REGION = "ap-northeast-1"
TEMPORARY = "Temporary-Passw0rd!"
CHOSEN = "Chosen-Passw0rd-42!"
EMAIL = "finance@example.com"
#: the instant moto checks codes at (its TOTP check reads ``time.time()``), frozen: no window edge
FROZEN = 1_780_000_000.0


@dataclass
class Clock:
    at: datetime = field(default_factory=lambda: datetime.fromtimestamp(FROZEN, UTC))

    def __call__(self) -> datetime:
        return self.at


class CookieBrowser:
    """A browser's cookie jar and forms, in front of the console's resolver."""

    def __init__(self, app: APIGatewayRestResolver) -> None:
        self.app = app
        self.jar: dict[str, str] = {}
        self.body = ""
        self.status = 0
        self.location = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> CookieBrowser:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        event = api_gateway_event(method, path, headers, urlencode(form or {}).encode())
        result = self.app.resolve(event, FakeContext("console-test"))
        raw = result.get("body") or ""
        self.body = base64.b64decode(raw).decode() if result.get("isBase64Encoded") else raw
        self.status = int(result["statusCode"])
        multi = result.get("multiValueHeaders") or {}
        self.location = str(
            (result.get("headers") or {}).get("Location") or (multi.get("Location") or [""])[0]
        )
        for header in multi.get("Set-Cookie", []):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header or not value:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return self

    def get(self, path: str) -> CookieBrowser:
        return self.request("GET", path)

    def submit(self, path: str, form: dict[str, str]) -> CookieBrowser:
        """Post a sign-in form with the token the page before it carried (its CSRF check)."""
        token = re.search(r'name="login_token" value="([^"]+)"', self.body)
        assert token, "the page before has a sign-in form"
        return self.request("POST", path, {**form, "login_token": token.group(1)})

    def follow(self) -> CookieBrowser:
        assert self.status == 303, (self.status, self.body[:200])
        self.get(self.location)
        if self.status == 200:
            accessible(self.body)
        return self


def accessible(html: str) -> None:
    """Every visible input has its label, and the page stays under the console's size limit."""
    assert len(html.encode()) < MAX_PAGE_BYTES
    inputs = re.findall(r'<input (?![^>]*type="hidden")[^>]*id="([^"]+)"', html)
    assert inputs and all(f'<label for="{name}">' in html for name in inputs), inputs


@dataclass
class Pool:
    cognito: Any
    pool_id: str
    client_id: str
    clock: Clock
    app: APIGatewayRestResolver

    def browser(self) -> CookieBrowser:
        return CookieBrowser(self.app)


def code_at(secret: str, *, shift: int = 0) -> str:
    right = cognito_totp(secret).generate(FROZEN).decode()
    return f"{(int(right) + shift) % 1_000_000:06d}"


def moto_verifier(pool_id: str, client_id: str) -> Verifier:
    """moto signs its ID tokens with the key it ships; the console checks them as Cognito's."""
    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-public.json.gz"
    keys = KeySet.import_key_set(json.loads(gzip.decompress(path.read_bytes())))
    return Verifier(cognito_issuer(REGION, pool_id), client_id, StaticJwks(keys))


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
    monkeypatch.setattr(moto.cognitoidp.utils.time, "time", lambda: FROZEN)
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="console", MfaConfiguration="ON")["UserPool"]["Id"]
        cognito.set_user_pool_mfa_config(
            UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
        )
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id, ClientName="console", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(
            UserPoolId=pool_id, Username=EMAIL, TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS"
        )
        cognito.create_group(UserPoolId=pool_id, GroupName="finance")
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=EMAIL, GroupName="finance")
        clock = Clock()
        deps = ConsoleDeps(
            verifier=lambda: moto_verifier(pool_id, client_id),
            auth=CognitoAuthenticator(client_id, lambda: cognito),
            now=clock,
        )
        yield Pool(cognito, pool_id, client_id, clock, build(deps))


def first_sign_in(pool: Pool) -> tuple[CookieBrowser, str]:
    """Temporary password → a new password → an authenticator set up: signed in, and its secret."""
    browser = pool.browser()
    browser.get("/console/login").submit("/console/login", {"username": EMAIL, "password": TEMPORARY})
    assert browser.location == "/console/login/new-password"
    browser.follow()
    assert browser.status == 200 and "新しいパスワードの設定" in browser.body
    browser.submit("/console/login/new-password", {"password": CHOSEN, "password_again": CHOSEN})
    assert browser.location == "/console/login/mfa-setup"
    browser.follow()
    secret = re.search(r'<code id="mfa-secret">([A-Za-z2-7=]+)</code>', browser.body)
    assert secret, browser.body
    assert f"otpauth://totp/cardops%3A{EMAIL.replace('@', '%40')}?secret={secret.group(1)}" in browser.body
    browser.submit("/console/login/mfa-setup", {"code": code_at(secret.group(1))})
    return browser, secret.group(1)


def test_the_first_sign_in_sets_a_password_and_an_authenticator(pool: Pool) -> None:
    browser, _ = first_sign_in(pool)
    assert browser.status == 303 and browser.location == "/console"
    assert SESSION_COOKIE in browser.jar and CHALLENGE_COOKIE not in browser.jar
    home = browser.get("/console")
    assert home.status == 200 and "店舗を開く" in home.body  # finance's store picker: the token was accepted
    user = pool.cognito.admin_get_user(UserPoolId=pool.pool_id, Username=EMAIL)
    assert user["UserStatus"] == "CONFIRMED"


def test_a_later_sign_in_asks_for_the_code_and_a_wrong_one_can_be_retried(pool: Pool) -> None:
    _, secret = first_sign_in(pool)
    browser = pool.browser()
    browser.get("/console/login").submit("/console/login", {"username": EMAIL, "password": CHOSEN})
    assert browser.location == "/console/login/mfa"
    browser.follow()
    assert "認証アプリに表示されている6桁のコード" in browser.body

    wrong = browser.submit("/console/login/mfa", {"code": code_at(secret, shift=1)})
    assert wrong.status == 401 and "確認コードが違います" in wrong.body
    assert SESSION_COOKIE not in browser.jar and CHALLENGE_COOKIE in browser.jar
    assert browser.submit("/console/login/mfa", {"code": "12ab56"}).status == 401  # not six digits

    browser.submit("/console/login/mfa", {"code": code_at(secret)})
    assert browser.status == 303 and browser.location == "/console" and SESSION_COOKIE in browser.jar


def test_a_wrong_code_while_setting_up_shows_a_fresh_key(pool: Pool) -> None:
    browser = pool.browser()
    browser.get("/console/login").submit("/console/login", {"username": EMAIL, "password": TEMPORARY})
    browser.follow().submit("/console/login/new-password", {"password": CHOSEN, "password_again": CHOSEN})
    browser.follow()
    secret = re.search(r'<code id="mfa-secret">([A-Za-z2-7=]+)</code>', browser.body)
    assert secret
    browser.submit("/console/login/mfa-setup", {"code": code_at(secret.group(1), shift=7)})
    assert browser.location == "/console/login/mfa-setup?error=code"
    again = browser.follow()
    assert again.status == 200 and "確認コードが違います" in again.body and "mfa-secret" in again.body
    assert SESSION_COOKIE not in browser.jar


def test_a_new_password_the_pool_refuses_or_mistyped_is_asked_again(pool: Pool) -> None:
    browser = pool.browser()
    browser.get("/console/login").submit("/console/login", {"username": EMAIL, "password": TEMPORARY})
    browser.follow()
    browser.submit("/console/login/new-password", {"password": CHOSEN, "password_again": CHOSEN + "x"})
    assert browser.status == 401 and "このパスワードは使えません" in browser.body
    browser.submit("/console/login/new-password", {"password": "short", "password_again": "short"})
    assert browser.status == 401 and "このパスワードは使えません" in browser.body
    user = pool.cognito.admin_get_user(UserPoolId=pool.pool_id, Username=EMAIL)
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_an_expired_or_unknown_sign_in_starts_again(pool: Pool) -> None:
    browser = pool.browser()
    browser.get("/console/login").submit("/console/login", {"username": EMAIL, "password": TEMPORARY})
    browser.follow()
    pool.clock.at += timedelta(seconds=CHALLENGE_SECONDS + 1)
    browser.submit("/console/login/new-password", {"password": CHOSEN, "password_again": CHOSEN})
    assert browser.location == "/console/login?expired=1" and CHALLENGE_COOKIE not in browser.jar
    assert "時間切れ" in browser.follow().body
    assert browser.get("/console/login/mfa").location == "/console/login?expired=1"  # none started

    pool.clock.at = Clock().at
    browser.get("/console/login").submit("/console/login", {"username": EMAIL, "password": TEMPORARY})
    browser.follow()
    # a session Cognito no longer knows (used, expired on its side): the same, never an error page
    value = json.loads(base64.urlsafe_b64decode(browser.jar[CHALLENGE_COOKIE] + "=="))
    for forged in ("not-a-session", "x" * 64):  # one botocore will not send, one Cognito does not know
        cookie = {**value, "s": forged}
        browser.jar[CHALLENGE_COOKIE] = base64.urlsafe_b64encode(json.dumps(cookie).encode()).decode()
        browser.jar.pop("cardops_login", None)
        browser.get("/console/login")  # a fresh form token (the page before the answer)
        browser.jar[CHALLENGE_COOKIE] = base64.urlsafe_b64encode(json.dumps(cookie).encode()).decode()
        browser.submit("/console/login/new-password", {"password": CHOSEN, "password_again": CHOSEN})
        assert browser.location == "/console/login?expired=1", forged
    # a step's cookie does not open another step's page
    browser.get("/console/login").submit("/console/login", {"username": EMAIL, "password": TEMPORARY})
    assert browser.get("/console/login/mfa").location == "/console/login?expired=1"


def test_a_challenge_answer_without_the_forms_token_is_refused(pool: Pool) -> None:
    browser = pool.browser()
    browser.get("/console/login").submit("/console/login", {"username": EMAIL, "password": TEMPORARY})
    browser.follow()
    refused = browser.request(
        "POST", "/console/login/new-password", {"password": CHOSEN, "password_again": CHOSEN}
    )
    assert refused.status == 403
    user = pool.cognito.admin_get_user(UserPoolId=pool.pool_id, Username=EMAIL)
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_no_password_code_session_or_token_is_logged(pool: Pool, caplog: pytest.LogCaptureFixture) -> None:
    from cardops.console.app import logger

    level = logger.log_level
    logger.setLevel("INFO")  # what a deployed function logs (botocore's DEBUG would show anything)
    caplog.set_level("INFO")
    browser, secret = first_sign_in(pool)
    again = pool.browser()
    again.get("/console/login").submit("/console/login", {"username": EMAIL, "password": "Wrong-Passw0rd!"})
    again.get("/console/login").submit("/console/login", {"username": EMAIL, "password": CHOSEN})
    challenge = again.jar[CHALLENGE_COOKIE]
    again.follow().submit("/console/login/mfa", {"code": code_at(secret, shift=3)})
    again.submit("/console/login/mfa", {"code": code_at(secret)})
    logger.setLevel(level)
    # every record as the function would print it (JSON through the masking formatter), boto3's too
    output = "\n".join(logger.registered_formatter.format(r) for r in caplog.records)
    assert "console sign-in refused" in output and "console sign-in answer refused" in output
    session = json.loads(base64.urlsafe_b64decode(challenge + "=="))["s"]
    for secret_value in (TEMPORARY, CHOSEN, "Wrong-Passw0rd!", secret, session, code_at(secret)):
        assert secret_value not in output
    for token in (browser.jar[SESSION_COOKIE], again.jar[SESSION_COOKIE]):
        assert token[:40] not in output
