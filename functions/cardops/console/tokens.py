"""Cognito ID tokens: verified here (RS256 against the pool's JWKS), turned into a Principal.

Deployed, the console's session cookie holds the ID token Cognito issued at sign-in; every request
verifies it again (signature, issuer, audience, ``token_use``, expiry), so a cookie nobody signed,
one for another pool or app client, an access token, or an expired one is a sign-in page, never a
session. The local sandbox signs its seeded users' tokens with its own key (``SandboxIssuer``) and
they go through the same checks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import urllib3
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from cardops.console.policy import Group, Principal

ALGORITHM = "RS256"
#: how long fetched signing keys are trusted before they are fetched again (Cognito rotates rarely)
JWKS_MAX_AGE_SECONDS = 3600
#: tolerated clock difference between Cognito and the function
LEEWAY_SECONDS = 60
SANDBOX_ISSUER = "cardops-sandbox"
SANDBOX_CLIENT_ID = "cardops-console-sandbox"


class InvalidToken(Exception):
    """The session's token is missing, forged, for someone else, or expired: sign in again."""


class Jwks(Protocol):
    def key_set(self) -> KeySet: ...


@dataclass(frozen=True)
class StaticJwks:
    keys: KeySet

    def key_set(self) -> KeySet:
        return self.keys


@dataclass
class HttpJwks:
    """The pool's published keys, fetched once per ``max_age`` (and again for an unknown ``kid``)."""

    url: str
    max_age: float = JWKS_MAX_AGE_SECONDS
    fetch: Callable[[str], bytes] | None = None
    _cached: tuple[float, KeySet] | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def key_set(self) -> KeySet:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.max_age:
                raw = (self.fetch or _get)(self.url)
                self._cached = (time.monotonic(), KeySet.import_key_set(json.loads(raw)))
            return self._cached[1]

    def refresh(self) -> None:
        with self._lock:
            self._cached = None


def _get(url: str) -> bytes:
    response = urllib3.request("GET", url, timeout=5.0, retries=2)
    if response.status != 200:
        raise InvalidToken(f"the signing keys could not be read ({response.status})")
    return response.data


def cognito_issuer(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


@dataclass(frozen=True)
class Verifier:
    issuer: str
    client_id: str
    jwks: Jwks

    def principal(self, token: str, *, now: datetime) -> Principal:
        """The user a valid ID token names; :class:`InvalidToken` for anything else."""
        try:
            decoded = jwt.decode(token, self.jwks.key_set(), algorithms=[ALGORITHM])
        except (JoseError, ValueError) as exc:
            if isinstance(self.jwks, HttpJwks) and "kid" in str(exc).lower():
                self.jwks.refresh()  # a rotated key: fetch the set once more
                try:
                    decoded = jwt.decode(token, self.jwks.key_set(), algorithms=[ALGORITHM])
                except (JoseError, ValueError) as again:
                    raise InvalidToken(f"not a valid token: {again.__class__.__name__}") from again
            else:
                raise InvalidToken(f"not a valid token: {exc.__class__.__name__}") from exc
        claims = decoded.claims
        validator = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            token_use={"essential": True, "value": "id"},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            validator.validate(claims)
        except JoseError as exc:
            raise InvalidToken(f"token refused: {exc.description or exc.error}") from exc
        return principal_of(claims)


def _split(value: Any) -> frozenset[str]:
    if isinstance(value, list):
        return frozenset(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, str):
        return frozenset(v.strip() for v in value.split(",") if v.strip())
    return frozenset()


def principal_of(claims: Mapping[str, Any]) -> Principal:
    """Cognito's claims: groups in ``cognito:groups``, the scope in the pool's custom attributes."""
    groups = frozenset(
        Group(g) for g in _split(claims.get("cognito:groups")) if g in Group.__members__.values()
    )
    tenant = claims.get("custom:tenant_id")
    employee = claims.get("custom:employee_code")
    return Principal(
        user_id=str(claims["sub"]),
        groups=groups,
        store_ids=_split(claims.get("custom:store_ids")),
        tenant_id=str(tenant) if tenant else None,
        employee_code=str(employee) if employee else None,
        email=str(claims["email"]) if claims.get("email") else None,
    )


@dataclass(frozen=True)
class SandboxIssuer:
    """The local sandbox's stand-in for Cognito: signs ID tokens of the seeded users."""

    key: RSAKey
    kid: str = "sandbox"

    @classmethod
    def from_json(cls, raw: str) -> SandboxIssuer:
        data = json.loads(raw)
        return cls(RSAKey.import_key(data), kid=str(data.get("kid", "sandbox")))

    def verifier(self) -> Verifier:
        public = RSAKey.import_key({**self.key.as_dict(private=False), "kid": self.kid})
        return Verifier(SANDBOX_ISSUER, SANDBOX_CLIENT_ID, StaticJwks(KeySet([public])))

    def issue(self, claims: Mapping[str, Any], *, now: datetime, ttl_seconds: int = 8 * 3600) -> str:
        issued = int(now.timestamp())
        body = {
            **claims,
            "iss": SANDBOX_ISSUER,
            "aud": SANDBOX_CLIENT_ID,
            "token_use": "id",
            "iat": issued,
            "auth_time": issued,
            "exp": issued + ttl_seconds,
        }
        return jwt.encode({"alg": ALGORITHM, "kid": self.kid}, body, self.key)


def generate_sandbox_key() -> str:
    """A fresh private JWK (JSON) for one sandbox run."""
    key = RSAKey.generate_key(2048, parameters={"kid": "sandbox"})
    return json.dumps(key.as_dict(private=True))
