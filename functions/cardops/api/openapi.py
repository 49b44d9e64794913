"""The OpenAPI document, generated from the code: the admin resolver's routes and models, plus the
webhook route (whose body is the provider's raw bytes, verified before any parsing).

Error answers are documented from the one error table (``cardops.api.errors``): every status a
resolver's table can answer, with the codes its rows name. Admin operations carry the SigV4
security scheme (API Gateway's IAM authorization); the webhook route is open (signed bodies).
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
    "description": "AWS Signature Version 4 (IAM); the local sandbox does not check it",
}


def error_responses(rules: Sequence[errors.ErrorRule[Any]]) -> dict[str, dict[str, Any]]:
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
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
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


def openapi_document() -> dict[str, Any]:
    from cardops.api.admin import app

    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="cardops",
            version="1.0.0",
            description="Webhooks (signed, open) and the admin API (IAM/SigV4 when deployed).",
        )
    )
    document["paths"]["/webhooks/{provider}"] = webhook_path()
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SIGV4] = SIGV4_SCHEME
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
