"""The web console's resolver: sign-in, the session check on every request, CSRF on every form.

Pages live in their own routers (``store_pages``); they read the request's ``RequestView`` (who is
signed in, the language, the CSRF token) and call the same use cases as the admin API.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from cardops.api import errors
from cardops.console import card_pages, i18n, sandbox_users, store_pages, support_pages
from cardops.console.policy import Group, Principal
from cardops.console.signin import (
    CHALLENGE_SECONDS,
    Authenticator,
    ChallengeExpired,
    Outcome,
    PasswordRefused,
    Pending,
    SignedIn,
    SignInFailed,
    Step,
    WrongCode,
    pending_cookie_value,
    pending_of,
)
from cardops.console.tokens import InvalidToken, SandboxIssuer, Verifier
from cardops.console.web import (
    CSRF_FIELD,
    LANG_COOKIE,
    SESSION_COOKIE,
    BadForm,
    Pages,
    RequestView,
    SignInRequired,
    check_csrf,
    check_login_token,
    cookie,
    cookies_of,
    csrf_token,
    parse_form,
    redirect,
)
from cardops.kernel import clock
from cardops.kernel.observability import make_logger

logger = make_logger("cardops-console")

#: the sign-in forms' own token (no session yet): a random value in a cookie and in the form
LOGIN_COOKIE = "cardops_login"
#: a started sign-in waiting for its next answer (``console.signin``): Cognito's session, short-lived
CHALLENGE_COOKIE = "cardops_challenge"
#: pages anyone may open (the sign-in forms); everything else needs a valid session
PUBLIC_PATHS = frozenset(
    {"/console/login", "/console/sandbox/login", *(f"/console/login/{step.value}" for step in Step)}
)
SESSION_SECONDS = 8 * 3600
#: each challenge page's template
CHALLENGE_TEMPLATES = {
    Step.NEW_PASSWORD: "login_new_password.html",
    Step.MFA: "login_mfa.html",
    Step.MFA_SETUP: "login_mfa_setup.html",
}


@dataclass
class ConsoleDeps:
    """What the console is wired to: how tokens are checked and issued, and the clock."""

    verifier: Callable[[], Verifier]
    #: the user pool's sign-in and its challenges (``console.cognito``); ``None``: no pool configured
    auth: Authenticator | None = None
    #: the local sandbox's issuer (the user switcher); never set deployed
    sandbox: SandboxIssuer | None = None
    now: Callable[[], datetime] = clock.now
    pages: Pages = field(default_factory=Pages)


def build(deps: ConsoleDeps) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    app.include_router(store_pages.router)
    app.include_router(card_pages.router)
    app.include_router(support_pages.router)

    def view() -> RequestView:
        found: RequestView = app.context["view"]
        return found

    def render_error(answer: errors.ErrorAnswer) -> Response[Any]:
        current = app.context.get("view") or _anonymous_view(app)
        if answer.status is HTTPStatus.UNAUTHORIZED:
            return redirect(current.url("/console/login"))
        return deps.pages.render(
            "error.html",
            current,
            answer.status,
            error_status=answer.status.value,
            title_key=i18n.error_key(answer.status.value),
            # a defect's message is fixed and generic; a refusal's names what to change
            message=answer.message,
        )

    def observe(exc: Exception, answer: errors.ErrorAnswer) -> None:
        if answer.defect:
            logger.exception("console request failed", error=exc.__class__.__name__)
        elif answer.status is HTTPStatus.FORBIDDEN:
            logger.warning("console request refused", code=answer.code, path=app.current_event.path)

    errors.register(app, errors.console_rules(), observe, render=render_error)

    def session(
        app: APIGatewayRestResolver, next_middleware: Callable[[APIGatewayRestResolver], Response[Any]]
    ) -> Response[Any]:
        """Who is signed in (the token checked again), the language, and CSRF on every change."""
        event = app.current_event
        cookies = cookies_of(event.headers or {})
        query = dict(event.query_string_parameters or {})
        lang = i18n.language(query.get("lang"), cookies.get(LANG_COOKIE))
        base = _base(app)
        token = cookies.get(SESSION_COOKIE)
        principal: Principal | None = None
        if token:
            try:
                principal = deps.verifier().principal(token, now=deps.now())
            except InvalidToken:
                principal = None
        current = RequestView(
            base=base,
            lang=lang,
            principal=principal,
            csrf=csrf_token(token) if principal and token else None,
            path=event.path,
            query=query,
            secure=deps.sandbox is None,
        )
        app.context["view"] = current  # cleared by the resolver after each request
        if event.path not in PUBLIC_PATHS:
            if principal is None or token is None:
                raise SignInRequired("no valid session")
            if event.http_method != "GET":
                check_csrf(token, parse_form(event.decoded_body).get(CSRF_FIELD))
        response = next_middleware(app)
        if "lang" in query and query["lang"] in i18n.LANGUAGES:
            response.cookies.append(
                cookie(LANG_COOKIE, lang, secure=current.secure, path=f"{base}/console", max_age=365 * 86400)
            )
        return response

    app.use(middlewares=[session])

    @app.get("/console")
    def home() -> Response[Any]:
        return store_pages.home(view())

    @app.get("/console/login")
    def login_page() -> Response[Any]:
        current = view()
        if deps.sandbox is not None:
            return redirect(current.url("/console/sandbox/login"))
        expired = current.query.get("expired") == "1"
        return _login_form(deps, current, message="login.expired" if expired else None)

    @app.post("/console/login")
    def login() -> Response[Any]:
        current = view()
        form = parse_form(app.current_event.decoded_body)
        _check_login_token(app, form)
        if deps.auth is None:
            return _login_form(deps, current, status=HTTPStatus.SERVICE_UNAVAILABLE)
        try:
            outcome = deps.auth.start(form.get("username", "").strip(), form.get("password", ""))
        except SignInFailed as exc:
            logger.warning("console sign-in refused", reason=str(exc))  # never the name or the password
            return _login_form(deps, current, message="login.failed", status=HTTPStatus.UNAUTHORIZED)
        return _continue(deps, current, outcome)

    def challenge_page(step: Step) -> Response[Any]:
        """The page of a started sign-in (a new password, a code, an authenticator's set-up)."""
        current = view()
        try:
            pending = _pending(app, deps, step)
            secret = None
            if step is Step.MFA_SETUP:
                assert deps.auth is not None  # _pending found a started sign-in: there is a pool
                secret, pending = deps.auth.mfa_secret(pending)
        except ChallengeExpired:
            return _start_again(current)
        return _challenge_form(deps, current, pending, secret=secret)

    def answer(step: Step) -> Response[Any]:
        """A challenge page's answer: the next page, the same page with what to fix, or signed in."""
        current = view()
        form = parse_form(app.current_event.decoded_body)
        _check_login_token(app, form)
        try:
            pending = _pending(app, deps, step)
            assert deps.auth is not None
            if step is Step.NEW_PASSWORD:
                if form.get("password", "") != form.get("password_again", ""):
                    raise PasswordRefused("the two entries differ")
                outcome = deps.auth.new_password(pending, form.get("password", ""))
            elif step is Step.MFA:
                outcome = deps.auth.mfa_code(pending, form.get("code", ""))
            else:
                outcome = deps.auth.mfa_setup(pending, form.get("code", ""))
        except ChallengeExpired:
            return _start_again(current)
        except (WrongCode, PasswordRefused) as exc:
            logger.warning("console sign-in answer refused", step=step.value, reason=exc.__class__.__name__)
            message = "login.wrong_code" if isinstance(exc, WrongCode) else "login.password_refused"
            if step is Step.MFA_SETUP:  # a new secret is shown: the session moved on
                return redirect(current.url(f"/console/login/{step.value}", error="code"))
            return _challenge_form(deps, current, pending, message=message, status=HTTPStatus.UNAUTHORIZED)
        return _continue(deps, current, outcome)

    @app.get("/console/login/new-password")
    def new_password_page() -> Response[Any]:
        return challenge_page(Step.NEW_PASSWORD)

    @app.post("/console/login/new-password")
    def new_password() -> Response[Any]:
        return answer(Step.NEW_PASSWORD)

    @app.get("/console/login/mfa")
    def mfa_page() -> Response[Any]:
        return challenge_page(Step.MFA)

    @app.post("/console/login/mfa")
    def mfa() -> Response[Any]:
        return answer(Step.MFA)

    @app.get("/console/login/mfa-setup")
    def mfa_setup_page() -> Response[Any]:
        return challenge_page(Step.MFA_SETUP)

    @app.post("/console/login/mfa-setup")
    def mfa_setup() -> Response[Any]:
        return answer(Step.MFA_SETUP)

    @app.post("/console/logout")
    def logout() -> Response[Any]:
        current = view()
        gone = cookie(SESSION_COOKIE, "", secure=current.secure, path=f"{current.base}/console", max_age=0)
        return redirect(current.url("/console/login"), [gone])

    # the sandbox's user switcher: not in the OpenAPI document (a deployed stack answers 404)
    @app.get("/console/sandbox/login", include_in_schema=False)
    def sandbox_login_page() -> Response[Any]:
        if deps.sandbox is None:
            raise store_pages.PageNotFound("/console/sandbox/login")
        nonce = secrets.token_urlsafe(24)
        current = view()
        response = deps.pages.render(
            "sandbox_login.html", current, users=sandbox_users.USERS, login_token=nonce,
        )  # fmt: skip
        response.cookies.append(_login_cookie(nonce, current))
        return response

    @app.post("/console/sandbox/login", include_in_schema=False)
    def sandbox_login() -> Response[Any]:
        if deps.sandbox is None:
            raise store_pages.PageNotFound("/console/sandbox/login")
        form = parse_form(app.current_event.decoded_body)
        _check_login_token(app, form)
        user = sandbox_users.BY_ID.get(form.get("user", ""))
        if user is None:
            raise BadForm("no such sandbox user")
        return _signed_in(
            view(), deps.sandbox.issue(user.claims(), now=deps.now(), ttl_seconds=SESSION_SECONDS)
        )

    return app


def _signed_in(current: RequestView, token: str) -> Response[Any]:
    path = f"{current.base}/console"
    session = cookie(SESSION_COOKIE, token, secure=current.secure, path=path, max_age=SESSION_SECONDS)
    done = [_login_cookie("", current, max_age=0), _challenge_cookie("", current, max_age=0)]
    return redirect(current.url("/console"), [session, *done])


def _continue(deps: ConsoleDeps, current: RequestView, outcome: Outcome) -> Response[Any]:
    """Signed in, or on to the page of the challenge Cognito answered with (its session in a cookie)."""
    if isinstance(outcome, SignedIn):
        return _signed_in(current, outcome.id_token)
    value = pending_cookie_value(outcome, now=deps.now())
    return redirect(current.url(f"/console/login/{outcome.step.value}"), [_challenge_cookie(value, current)])


def _pending(app: APIGatewayRestResolver, deps: ConsoleDeps, step: Step) -> Pending:
    if deps.auth is None:
        raise ChallengeExpired("no user pool is configured")
    value = cookies_of(app.current_event.headers or {}).get(CHALLENGE_COOKIE)
    return pending_of(value, step, now=deps.now())


def _start_again(current: RequestView) -> Response[Any]:
    """The started sign-in is gone: the sign-in page, saying so, and the stale cookie cleared."""
    return redirect(current.url("/console/login", expired="1"), [_challenge_cookie("", current, max_age=0)])


def _challenge_cookie(value: str, current: RequestView, max_age: int = CHALLENGE_SECONDS) -> Cookie:
    return cookie(
        CHALLENGE_COOKIE, value, secure=current.secure, path=f"{current.base}/console", max_age=max_age,
        same_site=SameSite.STRICT_MODE,
    )  # fmt: skip


def _login_cookie(value: str, current: RequestView, max_age: int = 600) -> Cookie:
    return cookie(
        LOGIN_COOKIE, value, secure=current.secure, path=f"{current.base}/console", max_age=max_age,
        same_site=SameSite.STRICT_MODE,
    )  # fmt: skip


def _check_login_token(app: APIGatewayRestResolver, form: dict[str, str]) -> None:
    check_login_token(cookies_of(app.current_event.headers or {}).get(LOGIN_COOKIE), form.get("login_token"))


def _login_form(
    deps: ConsoleDeps, current: RequestView, *, message: str | None = None, status: HTTPStatus = HTTPStatus.OK
) -> Response[Any]:
    return _with_login_token(
        deps, current, "login.html", status, message=message, configured=deps.auth is not None
    )


def _challenge_form(
    deps: ConsoleDeps,
    current: RequestView,
    pending: Pending,
    *,
    secret: str | None = None,
    message: str | None = None,
    status: HTTPStatus = HTTPStatus.OK,
) -> Response[Any]:
    if message is None and current.query.get("error") == "code":
        message = "login.wrong_code"
    response = _with_login_token(
        deps, current, CHALLENGE_TEMPLATES[pending.step], status, message=message, step=pending.step.value,
        secret=secret, otpauth=_otpauth(pending.username, secret) if secret else None,
    )  # fmt: skip
    if pending.step is Step.MFA_SETUP:  # the session the set-up continues with
        response.cookies.append(_challenge_cookie(pending_cookie_value(pending, now=deps.now()), current))
    return response


def _with_login_token(
    deps: ConsoleDeps, current: RequestView, template: str, status: HTTPStatus, **values: Any
) -> Response[Any]:
    """A sign-in form with a fresh token, the same in its cookie (the forms' CSRF check)."""
    nonce = secrets.token_urlsafe(24)
    response = deps.pages.render(template, current, status, login_token=nonce, **values)
    response.cookies.append(_login_cookie(nonce, current))
    return response


def _otpauth(username: str, secret: str) -> str:
    """The key URI an authenticator app reads (Google Authenticator's format; TOTP, 6 digits, 30 s)."""
    label = quote(f"cardops:{username}")
    return f"otpauth://totp/{label}?secret={quote(secret)}&issuer=cardops"


def _base(app: APIGatewayRestResolver) -> str:
    """The stage prefix the browser sees (``/prod``), which API Gateway strips from ``path``."""
    event = app.current_event
    context = event.raw_event.get("requestContext") or {}
    full = context.get("path") if isinstance(context, dict) else None
    if isinstance(full, str) and full.endswith(event.path) and full != event.path:
        prefix = full[: -len(event.path)]
        if prefix.startswith("/") and "/" not in prefix[1:]:
            return prefix
    return ""


def _anonymous_view(app: APIGatewayRestResolver) -> RequestView:
    return RequestView(
        base=_base(app),
        lang=i18n.DEFAULT,
        principal=None,
        csrf=None,
        path=app.current_event.path,
        query={},
        secure=True,
    )


__all__ = ["ConsoleDeps", "Group", "SignInFailed", "build"]
