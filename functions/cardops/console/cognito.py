"""The console's sign-in against the Cognito user pool (``console.signin.Authenticator``).

USER_PASSWORD_AUTH starts it; ``RespondToAuthChallenge`` answers a new password, an authenticator
code or the end of an authenticator's set-up (``AssociateSoftwareToken`` then
``VerifySoftwareToken``). All of these are the app client's public calls (no IAM permission: the
client has no secret and the pool checks the password and the codes). Only the ID token is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from cardops.console.signin import (
    STEP_OF_CHALLENGE,
    ChallengeExpired,
    Outcome,
    PasswordRefused,
    Pending,
    SignedIn,
    SignInFailed,
    Step,
    WrongCode,
    valid_code,
)

#: a refused password or an unknown user (``prevent_user_existence_errors`` answers the same for both)
REFUSED = frozenset({"NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException"})
#: a code that is not the one expected (or already used in this 30-second window)
WRONG_CODE = frozenset({"CodeMismatchException", "ExpiredCodeException", "EnableSoftwareTokenMFAException"})
#: the session is no longer Cognito's: expired (NotAuthorized "Invalid session"), or unknown
GONE = frozenset({"NotAuthorizedException", "ResourceNotFoundException", "UserNotFoundException"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class CognitoAuthenticator:
    client_id: str
    #: the cognito-idp client (``kernel.aws.client``), created on first use
    client: Callable[[], Any]

    def start(self, username: str, password: str) -> Outcome:
        if not username or not password:
            raise SignInFailed("user name and password are required")
        try:
            answer = self.client().initiate_auth(
                AuthFlow="USER_PASSWORD_AUTH",
                ClientId=self.client_id,
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as exc:
            if _code(exc) in REFUSED:
                raise SignInFailed(_code(exc)) from exc
            raise
        return self._outcome(answer, username)

    def new_password(self, pending: Pending, password: str) -> Outcome:
        if not password:
            raise PasswordRefused("a new password is required")
        answer = self._respond(pending, "NEW_PASSWORD_REQUIRED", {"NEW_PASSWORD": password})
        return self._outcome(answer, pending.username)

    def mfa_code(self, pending: Pending, code: str) -> Outcome:
        answer = self._respond(pending, "SOFTWARE_TOKEN_MFA", {"SOFTWARE_TOKEN_MFA_CODE": valid_code(code)})
        return self._outcome(answer, pending.username)

    def mfa_secret(self, pending: Pending) -> tuple[str, Pending]:
        answer = self._call("associate_software_token", Session=pending.session)
        session = answer.get("Session") or pending.session
        return str(answer["SecretCode"]), Pending(pending.step, pending.username, str(session))

    def mfa_setup(self, pending: Pending, code: str) -> Outcome:
        verified = self._call(
            "verify_software_token",
            Session=pending.session,
            UserCode=valid_code(code),
            FriendlyDeviceName="cardops console",
        )
        if verified.get("Status") != "SUCCESS":
            raise WrongCode("the authenticator was not verified")
        after = Pending(pending.step, pending.username, str(verified.get("Session") or pending.session))
        return self._outcome(self._respond(after, "MFA_SETUP", {}), pending.username)

    def _respond(self, pending: Pending, challenge: str, answers: dict[str, str]) -> Any:
        return self._call(
            "respond_to_auth_challenge",
            ClientId=self.client_id,
            ChallengeName=challenge,
            Session=pending.session,
            ChallengeResponses={"USERNAME": pending.username, **answers},
        )

    def _call(self, operation: str, **params: Any) -> Any:
        """A call continuing a started sign-in; its refusals mean a wrong answer or a gone session."""
        try:
            return getattr(self.client(), operation)(**params)
        except ParamValidationError as exc:  # a cookie's session botocore refuses to send
            raise ChallengeExpired("the started sign-in's session is not one") from exc
        except ClientError as exc:
            raise self._gone_or(exc) from exc

    @staticmethod
    def _gone_or(exc: ClientError) -> Exception:
        """The error a refused answer means to the page: a wrong code, a gone session, or itself."""
        code = _code(exc)
        if code in WRONG_CODE:
            return WrongCode(code)
        if code in GONE:
            return ChallengeExpired(code)
        if code in {"InvalidPasswordException", "InvalidParameterException"}:
            return PasswordRefused(code)
        return exc

    @staticmethod
    def _outcome(answer: Any, username: str) -> Outcome:
        token = (answer.get("AuthenticationResult") or {}).get("IdToken")
        if token:
            return SignedIn(str(token))
        name = str(answer.get("ChallengeName", ""))
        step = STEP_OF_CHALLENGE.get(name)
        if step is None or not answer.get("Session"):
            # SMS or e-mail codes, a custom challenge: the pool is configured for TOTP only
            raise SignInFailed(f"unsupported challenge {name or 'none'}")
        # Cognito names the user it means (an e-mail alias signs in as the pool's user name)
        params = answer.get("ChallengeParameters") or {}
        user = str(params.get("USER_ID_FOR_SRP") or params.get("USERNAME") or username)
        return Pending(step, user, str(answer["Session"]))


__all__ = ["CognitoAuthenticator", "Step"]
