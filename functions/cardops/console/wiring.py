"""The console wired to what the settings name: Cognito deployed, the sandbox's issuer locally."""

from __future__ import annotations

from functools import cache

from cardops.console.app import ConsoleDeps
from cardops.console.cognito import CognitoAuthenticator
from cardops.console.tokens import HttpJwks, SandboxIssuer, Verifier, cognito_issuer
from cardops.kernel import aws
from cardops.kernel.config import settings


def default_deps() -> ConsoleDeps:
    configured = settings()
    sandbox_key = configured.console_sandbox_signing_key.get_secret_value()
    if sandbox_key:
        issuer = SandboxIssuer.from_json(sandbox_key)
        verifier = issuer.verifier()
        return ConsoleDeps(verifier=lambda: verifier, sandbox=issuer)
    pool, client_id = configured.console_user_pool_id, configured.console_client_id
    return ConsoleDeps(verifier=lambda: _cognito_verifier(pool, client_id), auth=_cognito_auth(client_id))


@cache
def _cognito_verifier(pool: str, client_id: str) -> Verifier:
    """One per container: the pool's keys are fetched once an hour, not per request."""
    if not pool or not client_id:
        from cardops.console.tokens import InvalidToken

        raise InvalidToken("no user pool is configured (CONSOLE_USER_POOL_ID, CONSOLE_CLIENT_ID)")
    region = pool.split("_", 1)[0]  # a pool id is "{region}_{id}"
    issuer = cognito_issuer(region, pool)
    return Verifier(issuer, client_id, HttpJwks(f"{issuer}/.well-known/jwks.json"))


def _cognito_auth(client_id: str) -> CognitoAuthenticator | None:
    """The pool's sign-in (USER_PASSWORD_AUTH and its challenges); ``None`` without an app client."""
    if not client_id:
        return None
    return CognitoAuthenticator(client_id, lambda: aws.client("cognito-idp"))
