"""The OpenAPI document is complete: a typed answer for every operation, every error the table can
answer, the SigV4 scheme on every admin operation, and the console's pages with their cookie session
(issue 15 item 5)."""

from __future__ import annotations

from typing import Any

import pytest

from cardops.api import errors
from cardops.api.openapi import CONSOLE_SESSION, SIGV4
from cardops.console.app import PUBLIC_PATHS
from tests.openapi_conformance import NonConformingAnswer, check_answer, document, operation

SUCCESS = ("200", "201", "202")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op) for path, ops in document()["paths"].items() for method, op in ops.items()
    ]


def _typed(schema: dict[str, Any]) -> bool:
    """A schema that says what comes back: a model reference or a type, never an untyped ``Any``."""
    if "$ref" in schema or "type" in schema:
        return True
    return any(_typed(part) for key in ("anyOf", "oneOf", "allOf") for part in schema.get(key, []))


def test_every_operation_declares_a_typed_success_answer() -> None:
    untyped = []
    for method, path, op in _operations():
        answers = {status: op["responses"][status] for status in SUCCESS if status in op["responses"]}
        # each answer's every media type (JSON from the API, HTML from the console) says what it is
        schemas = [
            media.get("schema") or {} for a in answers.values() for media in a.get("content", {}).values()
        ]
        if not answers or not schemas or not all(_typed(schema) for schema in schemas):
            untyped.append(f"{method} {path}")
    assert not untyped, untyped


def test_every_admin_operation_requires_sigv4_and_the_webhook_none() -> None:
    scheme = document()["components"]["securitySchemes"][SIGV4]
    assert scheme == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "awsSigv4",
        "description": scheme["description"],
    }
    missing = [
        f"{method} {path}"
        for method, path, op in _operations()
        if path.startswith("/admin/") and op.get("security") != [{SIGV4: []}]
    ]
    assert not missing, missing
    assert document()["paths"]["/webhooks/{provider}"]["post"]["security"] == []


def test_every_row_of_the_error_table_is_documented_on_every_admin_operation() -> None:
    shared = document()["components"]["responses"]
    for rule in errors.admin_rules():
        statuses = rule.documented_statuses()
        assert statuses, f"{rule.error.__name__}: a callable status must list what it may answer"
        for status in statuses:
            answer = shared[f"AdminError{status.value}"]
            code = rule.documented_code()
            assert (f"`{code}`" if code else rule.error.__name__) in answer["description"]
    for method, path, op in _operations():
        if path.startswith("/admin/"):
            assert {"404", "409", "422", "503"} <= set(op["responses"]), f"{method} {path}"


def test_a_validation_error_is_documented_in_the_answered_shape() -> None:
    """The 422 is the table's ``{"error": …}`` answer, not Powertools' ``detail`` list."""
    body = {"error": {"code": "invalid_request", "message": "request validation failed", "details": {}}}
    check_answer("POST", "/admin/stores/s1/payouts", 422, body)
    with pytest.raises(NonConformingAnswer):
        check_answer("POST", "/admin/stores/s1/payouts", 422, {"detail": []})


def test_the_conformance_check_refuses_what_the_document_does_not_say() -> None:
    assert operation("GET", "/admin/events/dlq") is not None
    assert operation("GET", "/admin/events/dlq")[0] == "/admin/events/dlq"  # type: ignore[index]
    with pytest.raises(NonConformingAnswer, match="does not document"):
        check_answer("GET", "/admin/stores/s1/balance", 201, {})
    with pytest.raises(NonConformingAnswer, match="ledgers"):
        check_answer("GET", "/admin/stores/s1/balance", 200, {"store_id": "s1", "as_of": "2026-12-01"})
    check_answer(
        "GET", "/admin/stores/s1/balance", 200, {"store_id": "s1", "as_of": "2026-12-01", "ledgers": []}
    )


def test_the_console_pages_are_documented_as_html_behind_the_session_cookie() -> None:
    scheme = document()["components"]["securitySchemes"][CONSOLE_SESSION]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "cookie", "cardops_console")
    console = [(method, path, op) for method, path, op in _operations() if path.startswith("/console")]
    paths = {path for _, path, _ in console}
    assert {"/console", "/console/login", "/console/login/mfa", "/console/stores/{store_id}/payout"} <= paths
    assert "/console/sandbox/login" not in paths  # the sandbox's user switcher: no deployed stack has one
    for method, path, op in console:
        assert set(op["responses"]["200"]["content"]) == {"text/html"}, (method, path)
        assert {"303", "400", "403", "404"} <= set(op["responses"]), (method, path)
        assert all("application/json" not in a.get("content", {}) for a in op["responses"].values())
        expected = [] if path in PUBLIC_PATHS else [{CONSOLE_SESSION: []}]
        assert op["security"] == expected, (method, path)
        if method == "POST":
            form = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
            assert form["required"] == (["login_token"] if path in PUBLIC_PATHS else ["csrf"]), path
