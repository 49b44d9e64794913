"""The OpenAPI document, generated from the code: the admin resolver's routes and models, the
webhook route (whose body is the provider's raw bytes, verified before any parsing), and the web
console's pages (from the console's resolver).

Error answers are documented from the one error table (``cardops.api.errors``): every status a
resolver's table can answer, with the codes its rows name. Admin operations carry the SigV4
security scheme (API Gateway's IAM authorization); the webhook route is open (signed bodies); the
console's pages answer HTML and carry the session-cookie scheme, except its sign-in forms (open,
their own token against CSRF). The sandbox's user switcher is left out: a deployed stack has none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from cardops.api import errors

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        }
    },
}

WEBHOOK_ACCEPTED: dict[str, Any] = {
    "type": "object",
    "required": ["received", "duplicate"],
    "properties": {"received": {"type": "boolean"}, "duplicate": {"type": "boolean"}},
}

#: the name of the admin API's security scheme in ``components.securitySchemes``
SIGV4 = "sigv4"
SIGV4_SCHEME: dict[str, Any] = {
    "type": "apiKey",
    "name": "Authorization",
    "in": "header",
    "x-amazon-apigateway-authtype": "awsSigv4",
    "description": "AWS Signature Version 4 (IAM, service execute-api); the local sandbox checks it on "
    "AdminApiUrl (the operator's key: sandbox/sandbox), not on ApiUrl",
}


#: the console's security scheme: the HttpOnly session cookie holding the user's Cognito ID token
CONSOLE_SESSION = "consoleSession"
CONSOLE_SESSION_SCHEME: dict[str, Any] = {
    "type": "apiKey",
    "in": "cookie",
    "name": "cardops_console",
    "description": "The console's session: the Cognito ID token its sign-in set (HttpOnly, checked on "
    "every request); every form also carries the session's CSRF token (field `csrf`)",
}
HTML_PAGE: dict[str, Any] = {"text/html": {"schema": {"type": "string", "description": "an HTML page"}}}


def error_responses(
    rules: Sequence[errors.ErrorRule[Any]], media_type: str = "application/json"
) -> dict[str, dict[str, Any]]:
    """One response per status the table answers, naming the codes (and the errors) behind it."""
    by_status: dict[HTTPStatus, list[str]] = {}
    for rule in rules:
        code = rule.documented_code()
        named = f"`{code}`" if code else f"the code of {rule.error.__name__}"
        for status in rule.documented_statuses():
            found = by_status.setdefault(status, [])
            if named not in found:
                found.append(named)
    return {
        str(status.value): {
            "description": f"{status.phrase}: {', '.join(named)}",
            "content": {media_type: {"schema": ERROR_SCHEMA}} if media_type != "text/html" else HTML_PAGE,
        }
        for status, named in sorted(by_status.items())
    }


def webhook_path() -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "accepted or duplicate",
            "content": {"application/json": {"schema": WEBHOOK_ACCEPTED}},
        }
    }
    responses.update(error_responses(errors.webhook_rules()))
    return {
        "post": {
            "operationId": "receive_webhook",
            "summary": "Signed provider webhook (SPEC §1)",
            "tags": ["webhooks"],
            "security": [],
            "parameters": [
                {"name": "provider", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "Stripe-Signature", "in": "header", "required": False, "schema": {"type": "string"}},
                {
                    "name": "X-Payjp-Webhook-Token",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                },
            },
            "responses": responses,
        }
    }


def console_paths() -> dict[str, Any]:
    """The console's pages as its resolver declares them, answering HTML (a page, a redirect after a
    form or to the sign-in, or an error page from the console's error table)."""
    from cardops.console.app import PUBLIC_PATHS, ConsoleDeps, build, routers_kept
    from cardops.console.tokens import InvalidToken

    def no_verifier() -> Any:
        raise InvalidToken("documentation only")

    with routers_kept():  # the console serving requests in this process keeps its routers
        generated = json.loads(
            build(ConsoleDeps(verifier=no_verifier)).get_openapi_json_schema(title="console")
        )
    answers: dict[str, Any] = {
        "200": {"description": "the page", "content": HTML_PAGE},
        "303": {
            "description": "after a form, the page that shows its result; without a valid session, "
            "the sign-in page",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    }
    answers.update(error_responses(errors.console_rules(), media_type="text/html"))
    paths: dict[str, Any] = {}
    for path, operations in generated["paths"].items():
        for method, operation in operations.items():
            public = path in PUBLIC_PATHS
            operation["tags"] = ["console"]
            operation["responses"] = answers
            operation["security"] = [] if public else [{CONSOLE_SESSION: []}]
            if method == "post":
                token = "login_token" if public else "csrf"
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": [token],
                                "properties": {token: {"type": "string"}},
                                "additionalProperties": {"type": "string"},
                            }
                        }
                    },
                }
            paths.setdefault(path, {})[method] = operation
    return paths


def openapi_document() -> dict[str, Any]:
    from cardops.api.admin import app

    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="cardops",
            version="1.0.0",
            description="Webhooks (signed, open), the admin API (IAM/SigV4 when deployed) and the web "
            "console's pages (HTML, a Cognito session cookie).",
        )
    )
    document["paths"]["/webhooks/{provider}"] = webhook_path()
    document["paths"].update(console_paths())
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SIGV4] = SIGV4_SCHEME
    components["securitySchemes"][CONSOLE_SESSION] = CONSOLE_SESSION_SCHEME
    # each error answer once, under components; the operations refer to it (the document stays small)
    shared = components.setdefault("responses", {})
    admin_errors: dict[str, Any] = {}
    for status, answer in error_responses(errors.admin_rules()).items():
        shared[f"AdminError{status}"] = answer
        admin_errors[status] = {"$ref": f"#/components/responses/AdminError{status}"}
    for path, operations in document["paths"].items():
        if not path.startswith("/admin/"):
            continue
        for operation in operations.values():
            operation["security"] = [{SIGV4: []}]
            # Powertools documents a 422 in its own shape: the table's answer replaces it
            operation.setdefault("responses", {}).update(admin_errors)
    return document
