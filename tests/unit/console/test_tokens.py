"""Cognito ID token verification (issue 15 item 2), against a locally generated RSA key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from cardops.console.policy import Group
from cardops.console.tokens import HttpJwks, InvalidToken, SandboxIssuer, StaticJwks, Verifier, cognito_issuer

NOW = datetime(2026, 5, 7, 3, 0, tzinfo=UTC)
POOL = "ap-northeast-1_AbCdEf123"
ISSUER = cognito_issuer("ap-northeast-1", POOL)
CLIENT = "client123"


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "user-1",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "iat": int(NOW.timestamp()) - 60,
        "exp": int(NOW.timestamp()) + 3600,
        "cognito:groups": ["store_admin"],
        "custom:store_ids": "store_a, store_b",
        "custom:tenant_id": "t1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: RSAKey, body: dict[str, Any], kid: str = "k1") -> str:
    return jwt.encode({"alg": "RS256", "kid": kid}, body, key)


def verifier(key: RSAKey) -> Verifier:
    public = RSAKey.import_key(key.as_dict(private=False))
    return Verifier(ISSUER, CLIENT, StaticJwks(KeySet([public])))


def test_a_valid_id_token_names_the_user_its_groups_and_scope(key: RSAKey) -> None:
    principal = verifier(key).principal(sign(key, claims()), now=NOW)
    assert principal.user_id == "user-1"
    assert principal.groups == frozenset({Group.STORE_ADMIN})
    assert principal.store_ids == frozenset({"store_a", "store_b"})
    assert principal.tenant_id == "t1"


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": int(NOW.timestamp()) - 3600},  # expired
        {"aud": "another-client"},  # another app client
        {"iss": cognito_issuer("ap-northeast-1", "ap-northeast-1_Other")},  # another pool
        {"token_use": "access"},  # an access token is not a session
        {"sub": None},
    ],
)
def test_tokens_for_someone_else_or_expired_are_refused(key: RSAKey, bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        verifier(key).principal(sign(key, claims(**bad)), now=NOW)


def test_a_token_signed_by_another_key_is_refused(key: RSAKey) -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(InvalidToken):
        verifier(key).principal(sign(other, claims()), now=NOW)


def test_a_symmetric_or_unsigned_token_is_refused(key: RSAKey) -> None:
    """The classic forgeries: HS256 keyed with the public key's bytes, and ``alg: none``."""
    public_bytes = json.dumps(key.as_dict(private=False)).encode()
    forged = jwt.encode({"alg": "HS256", "kid": "k1"}, claims(), OctKey.import_key(public_bytes))
    with pytest.raises(InvalidToken):
        verifier(key).principal(forged, now=NOW)
    header, body, _ = sign(key, claims()).split(".")
    with pytest.raises(InvalidToken):
        verifier(key).principal(f"{header}.{body}.", now=NOW)
    with pytest.raises(InvalidToken):
        verifier(key).principal("not-a-token", now=NOW)


def test_a_tampered_payload_is_refused(key: RSAKey) -> None:
    import base64

    header, _, signature = sign(key, claims()).split(".")
    richer = base64.urlsafe_b64encode(json.dumps(claims(**{"custom:store_ids": "store_z"})).encode())
    with pytest.raises(InvalidToken):
        verifier(key).principal(f"{header}.{richer.decode().rstrip('=')}.{signature}", now=NOW)


def test_the_pool_keys_are_fetched_once_and_again_for_a_rotated_key(key: RSAKey) -> None:
    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    published = [KeySet([RSAKey.import_key(key.as_dict(private=False))])]
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return json.dumps(published[-1].as_dict(private=False)).encode()

    jwks = HttpJwks(f"{ISSUER}/.well-known/jwks.json", fetch=fetch)
    check = Verifier(ISSUER, CLIENT, jwks)
    check.principal(sign(key, claims()), now=NOW)
    check.principal(sign(key, claims()), now=NOW)
    assert len(fetched) == 1
    published.append(KeySet([RSAKey.import_key(rotated.as_dict(private=False))]))
    assert check.principal(sign(rotated, claims(), kid="k2"), now=NOW).user_id == "user-1"
    assert len(fetched) == 2


def test_the_sandbox_issuer_signs_tokens_the_same_checks_accept() -> None:
    from cardops.console.tokens import generate_sandbox_key

    issuer = SandboxIssuer.from_json(generate_sandbox_key())
    token = issuer.issue({"sub": "s1", "cognito:groups": ["finance"]}, now=NOW)
    assert issuer.verifier().principal(token, now=NOW).groups == frozenset({Group.FINANCE})
    with pytest.raises(InvalidToken):
        issuer.verifier().principal(token, now=NOW + timedelta(days=1))
    # another sandbox run's key does not open this run's sessions
    with pytest.raises(InvalidToken):
        SandboxIssuer.from_json(generate_sandbox_key()).verifier().principal(token, now=NOW)
