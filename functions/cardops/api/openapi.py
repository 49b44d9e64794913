"""The OpenAPI document, generated from the code: the admin resolver's routes and models, plus the
webhook route (whose body is the provider's raw bytes, verified before any parsing)."""

from __future__ import annotations

import json
from typing import Any

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

WEBHOOK_RESPONSES = {
    "200": ("accepted or duplicate", {
        "type": "object",
        "required": ["received", "duplicate"],
        "properties": {"received": {"type": "boolean"}, "duplicate": {"type": "boolean"}},
    }),
    "400": ("malformed body", ERROR_SCHEMA),
    "401": ("bad signature or token, or stale timestamp", ERROR_SCHEMA),
    "404": ("unknown provider", ERROR_SCHEMA),
    "413": ("body over 256 KiB", ERROR_SCHEMA),
    "503": ("transient failure to store: the provider retries", ERROR_SCHEMA),
}  # fmt: skip


def webhook_path() -> dict[str, Any]:
    return {
        "post": {
            "operationId": "receive_webhook",
            "summary": "Signed provider webhook (SPEC §1)",
            "tags": ["webhooks"],
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
            "responses": {
                status: {"description": text, "content": {"application/json": {"schema": schema}}}
                for status, (text, schema) in WEBHOOK_RESPONSES.items()
            },
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
    for path, operations in document["paths"].items():
        if not path.startswith("/admin/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, text in (
                ("404", "not found"),
                ("409", "conflict"),
                ("503", "storage unavailable; retry"),
            ):
                responses.setdefault(
                    status, {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
                )
    return document
