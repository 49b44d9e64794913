"""The console wired to what the settings name: Cognito deployed, the sandbox's issuer locally."""

from __future__ import annotations

from functools import cache
from typing import Any

from cardops.console.app import ConsoleDeps, SignInFailed
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
    return ConsoleDeps(
        verifier=lambda: _cognito_verifier(pool, client_id), sign_in=_cognito_sign_in(client_id)
    )


@cache
def _cognito_verifier(pool: str, client_id: str) -> Verifier:
    """One per container: the pool's keys are fetched once an hour, not per request."""
    if not pool or not client_id:
        from cardops.console.tokens import InvalidToken

        raise InvalidToken("no user pool is configured (CONSOLE_USER_POOL_ID, CONSOLE_CLIENT_ID)")
    region = pool.split("_", 1)[0]  # a pool id is "{region}_{id}"
    issuer = cognito_issuer(region, pool)
    return Verifier(issuer, client_id, HttpJwks(f"{issuer}/.well-known/jwks.json"))


def _cognito_sign_in(client_id: str) -> Any:
    if not client_id:
        return None

    def sign_in(username: str, password: str) -> str:
        """USER_PASSWORD_AUTH: the pool checks the password; we keep only the ID token it returns."""
        from botocore.exceptions import ClientError

        if not username or not password:
            raise SignInFailed("user name and password are required")
        try:
            answer = aws.client("cognito-idp").initiate_auth(
                AuthFlow="USER_PASSWORD_AUTH",
                ClientId=client_id,
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException"}:
                raise SignInFailed(code) from exc
            raise
        token = (answer.get("AuthenticationResult") or {}).get("IdToken")
        if not token:  # a challenge (a new password, MFA): finished in Cognito's own flows, not here
            raise SignInFailed(str(answer.get("ChallengeName", "challenge")))
        return str(token)

    return sign_in
