"""Requests and answers of the console: sessions, CSRF tokens, forms, pages.

The session cookie holds the ID token (HttpOnly, Secure when deployed, SameSite=Lax). Every form
carries a CSRF token that is an HMAC of the session keyed by the session's own token: an attacker
who can make the browser post cannot read the cookie, so cannot compute it, and a token from one
session is worthless in another. It is checked on every POST before anything else runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from cardops.console import i18n
from cardops.console.policy import Principal
from cardops.kernel.calendar import TOKYO

SESSION_COOKIE = "cardops_console"
LANG_COOKIE = "cardops_lang"
CSRF_FIELD = "csrf"
HTML = "text/html; charset=utf-8"
#: the most a console page may weigh (issue 15: no page over 200 KB); tests assert every page below it
MAX_PAGE_BYTES = 200 * 1024
#: the most a form body may be (the console's forms are a few fields)
MAX_FORM_BYTES = 16 * 1024
TEMPLATES = Path(__file__).parent / "templates"
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class SignInRequired(Exception):
    """No session, or its token is no longer valid: the sign-in page."""


class CsrfRejected(Exception):
    """A form posted without this session's CSRF token: nothing is done."""


class BadForm(ValueError):
    """A form field is missing or not what it must be (the page names it)."""


def csrf_token(session_token: str) -> str:
    mac = hmac.new(session_token.encode(), b"cardops-console-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def check_csrf(session_token: str, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(csrf_token(session_token), submitted):
        raise CsrfRejected("the form's CSRF token is missing or not this session's")


def check_login_token(expected: str | None, submitted: str | None) -> None:
    """The sign-in forms' own check (no session yet): the form's token must be the cookie's."""
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise CsrfRejected("the sign-in form's token is missing or not this browser's")


def cookies_of(headers: Mapping[str, str]) -> dict[str, str]:
    raw = next((v for k, v in headers.items() if k.lower() == "cookie"), "")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:  # a malformed cookie header is no session, not a crash
        return {}
    return {k: m.value for k, m in jar.items()}


def parse_form(body: str | None) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; a field given twice is refused."""
    if not body:
        return {}
    if len(body) > MAX_FORM_BYTES:
        raise BadForm("the form is too large")
    fields = parse_qs(body, keep_blank_values=True, strict_parsing=False)
    if any(len(v) > 1 for v in fields.values()):
        raise BadForm("a form field was sent twice")
    return {k: v[0] for k, v in fields.items()}


def identifier(value: str | None, name: str) -> str:
    if value is None or not ID_PATTERN.fullmatch(value):
        raise BadForm(f"{name} is not a valid identifier")
    return value


def optional_amount(value: str | None, name: str, *, maximum: int) -> int | None:
    """A whole amount in minor units, or ``None`` when left empty (digits only: no ``1e3``, no sign)."""
    text = (value or "").strip().replace(",", "")
    if not text:
        return None
    if not text.isdigit() or not text.isascii():
        raise BadForm(f"{name} must be a whole number")
    amount = int(text)
    if amount <= 0 or amount > maximum:
        raise BadForm(f"{name} must be between 1 and {maximum}")
    return amount


def signed_amount(value: str | None, name: str, *, maximum: int) -> int:
    """A non-zero whole amount that may be negative (an adjustment takes money as well as gives it)."""
    text = (value or "").strip()
    negative = text.startswith(("-", "−"))
    amount = optional_amount(text[1:] if negative else text, name, maximum=maximum)
    if amount is None:
        raise BadForm(f"{name} is required")
    return -amount if negative else amount


_Choice = TypeVar("_Choice", bound=Enum)


def choice(value: str | None, options: type[_Choice], message: str) -> _Choice:
    """One of a select's listed values (``message`` when the form sent anything else)."""
    try:
        return options(value or "")
    except ValueError as exc:
        raise BadForm(message) from exc


@dataclass(frozen=True)
class RequestView:
    """What a page needs to know about the request it answers."""

    base: str  # the stage prefix deployed (``/prod``), empty in the sandbox
    lang: str
    principal: Principal | None
    csrf: str | None
    path: str
    query: Mapping[str, str]
    secure: bool

    @property
    def user(self) -> Principal:
        """The signed-in user of a page that requires one."""
        assert self.principal is not None  # the session middleware let only signed-in requests through
        return self.principal

    def url(self, path: str, **query: Any) -> str:
        params = {k: v for k, v in query.items() if v is not None}
        return f"{self.base}{path}" + (f"?{urlencode(params)}" if params else "")


def request_view(router: Router) -> RequestView:
    """The request's view, which the session middleware put in the router's context."""
    found: RequestView = router.context["view"]
    return found


class Pages:
    """The templates, autoescaped, with the catalogue and formatting helpers."""

    def __init__(self, directory: Path = TEMPLATES) -> None:
        self.env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = money
        self.env.globals["tokyo"] = TOKYO

    def render(
        self, name: str, view: RequestView, status: HTTPStatus = HTTPStatus.OK, **values: Any
    ) -> Response[str]:
        lang = view.lang

        def t(key: str) -> str:
            return i18n.translate(key, lang)

        body = self.env.get_template(name).render(view=view, t=t, lang=lang, **values)
        response: Response[str] = Response(
            status_code=status.value, content_type=HTML, body=body, headers=security_headers()
        )
        return response


def money(amount: int | None, currency: str | None = "JPY") -> str:
    """Minor units as shown to a person (JPY has none; two decimals otherwise)."""
    if amount is None:
        return "—"
    code = (currency or "JPY").upper()
    sign = "-" if amount < 0 else ""
    if code == "JPY":
        return f"{sign}¥{abs(amount):,}"
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{cents:02d} {code}"


def security_headers() -> dict[str, str]:
    """No script runs on these pages, no page is framed or cached."""
    return {
        "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def redirect(location: str, cookies: list[Cookie] | None = None) -> Response[str]:
    return Response(
        status_code=HTTPStatus.SEE_OTHER.value,
        content_type=HTML,
        body="",
        headers={"Location": location, **security_headers()},
        cookies=cookies or [],
    )


def cookie(
    name: str,
    value: str,
    *,
    secure: bool,
    path: str,
    max_age: int | None = None,
    same_site: SameSite = SameSite.LAX_MODE,
) -> Cookie:
    """Every console cookie is HttpOnly, scoped to the console's path, Secure when deployed."""
    return Cookie(
        name=name, value=value, path=path, secure=secure, http_only=True, same_site=same_site, max_age=max_age
    )
