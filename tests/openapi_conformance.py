"""Admin API answers checked against the OpenAPI document: the status is documented for the
operation and the body validates against the schema declared for it.

``tests.helpers.call`` checks every admin answer it returns, so each integration test that calls
the admin API in-process is also a conformance test of the routes it calls.
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from cardops.api.openapi import ERROR_SCHEMA, openapi_document


class NonConformingAnswer(AssertionError):
    pass


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return openapi_document()


@lru_cache(maxsize=1)
def _templates() -> list[tuple[re.Pattern[str], str]]:
    found = []
    for template in document()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        found.append((re.compile(f"^{pattern}$"), template))
    # a literal segment wins over a parameter (``/admin/events/dlq`` before ``/admin/events/{p}/{id}``)
    found.sort(key=lambda item: item[1].count("{"))
    return found


def operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The documented operation answering ``method path`` (query string ignored), with its template."""
    bare = urlsplit(path).path
    for pattern, template in _templates():
        if pattern.match(bare):
            found = document()["paths"][template].get(method.lower())
            if found is not None:
                return template, found
    return None


def _resolve(item: dict[str, Any]) -> dict[str, Any]:
    ref = item.get("$ref")
    if not isinstance(ref, str):
        return item
    node: Any = document()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(node)


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    found = operation(method, path)
    if found is None:
        if 400 <= status < 500:  # an unknown route or method: the table's error shape, nothing more
            return ERROR_SCHEMA
        raise NonConformingAnswer(f"{method} {path}: no documented operation, answered {status}")
    template, op = found
    answer = op["responses"].get(str(status))
    if answer is None:
        raise NonConformingAnswer(f"{method} {template} answered {status}, which it does not document")
    schema = _resolve(answer).get("content", {}).get("application/json", {}).get("schema")
    if not schema:
        raise NonConformingAnswer(f"{method} {template} {status}: no JSON schema")
    return {**schema, "components": document()["components"]}


def _note(method: str, path: str, status: int) -> None:
    """With ``CARDOPS_CONFORMANCE_LOG=FILE``, each checked answer's operation and status is appended
    to FILE: which operations the tests' answers cover (``python -m tests.openapi_conformance FILE``)."""
    target = os.environ.get("CARDOPS_CONFORMANCE_LOG")
    found = operation(method, path)
    if target and found:
        with open(target, "a", encoding="utf-8") as log:
            log.write(f"{method.upper()} {found[0]} {status}\n")


def check_answer(method: str, path: str, status: int, body: Any) -> None:
    """Raise ``NonConformingAnswer`` unless the answer is documented and matches its schema."""
    schema = response_schema(method, path, status)
    _note(method, path, status)
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if problems:
        shown = "; ".join(
            f"{'/'.join(map(str, p.absolute_path)) or '(body)'}: {p.message}" for p in problems[:5]
        )
        raise NonConformingAnswer(f"{method} {path} {status}: {shown}")


def uncovered(log_lines: list[str]) -> list[str]:
    """The documented operations no logged answer shows succeeding."""
    succeeded = {line.rsplit(" ", 1)[0] for line in log_lines if line.strip().endswith(("200", "201", "202"))}
    return [
        f"{method.upper()} {path}"
        for path, ops in document()["paths"].items()
        for method in ops
        if path.startswith("/admin/") and f"{method.upper()} {path}" not in succeeded
    ]


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as logged:
        missing = uncovered(logged.read().splitlines())
    print("\n".join(missing) or "every admin operation's success answer was checked")
