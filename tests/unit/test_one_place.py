"""Configuration and error answers each have one place (issue 14 item 4), checked on the syntax tree.

- only ``kernel/config/`` (the settings model, and the webhook's subset of it) reads the environment;
  ``sandbox/`` and ``cli/`` are the outer shells that set it for the local sandbox (the sandbox
  user, the secrets' ``CARDOPS_*`` overrides);
- only ``api/errors.py`` registers exception handlers (``exception_handler``, ``not_found``, or the
  resolver's handler manager) or builds an error answer (``error_response``): a route raises.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "cardops"

ENVIRONMENT_ALLOWED = ("kernel/config/", "sandbox/", "cli/")
HANDLERS_ALLOWED = ("api/errors.py",)

_OS_READS = {"environ", "environb", "getenv", "getenvb"}
_HANDLER_ATTRIBUTES = {"exception_handler", "not_found", "exception_handler_manager", "error_response"}


def violations(source: str) -> tuple[list[str], list[str]]:
    """(environment reads, exception-handler registrations) in ``source``, as ``line: text``."""
    tree = ast.parse(source)
    os_names = {"os"}
    environment: list[str] = []
    handlers: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {alias.asname or alias.name for alias in node.names if alias.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            environment += [
                f"{node.lineno}: from os import {a.name}" for a in node.names if a.name in _OS_READS
            ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in _OS_READS and isinstance(node.value, ast.Name) and node.value.id in os_names:
                environment.append(f"{node.lineno}: {ast.unparse(node)}")
            elif node.attr in _HANDLER_ATTRIBUTES:
                handlers.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.alias) and node.name == "error_response":
            handlers.append(f"import {node.name}")
    return environment, handlers


def _modules() -> list[tuple[str, str]]:
    return [
        (path.relative_to(PACKAGE).as_posix(), path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def _found(allowed: tuple[str, ...], kind: int) -> dict[str, list[str]]:
    """Per module outside ``allowed``: its environment reads (``kind`` 0) or handlers (1)."""
    return {
        name: found
        for name, source in _modules()
        if not name.startswith(allowed) and (found := violations(source)[kind])
    }


def test_only_the_settings_model_reads_the_environment() -> None:
    assert _found(ENVIRONMENT_ALLOWED, 0) == {}, "read it via cardops.kernel.config.settings() (add a field)"


def test_only_the_error_table_registers_exception_handlers() -> None:
    assert _found(HANDLERS_ALLOWED, 1) == {}, "raise, and add a row to the tables in cardops.api.errors"


def test_the_allowed_places_are_where_they_are_said_to_be() -> None:
    names = {name for name, _ in _modules()}
    for allowed in (*ENVIRONMENT_ALLOWED, *HANDLERS_ALLOWED):
        assert any(name.startswith(allowed) for name in names), allowed


@pytest.mark.parametrize(
    ("source", "environment", "handlers"),
    [
        ("import os\nx = os.environ['A']", 1, 0),
        ("import os\nx = os.getenv('A')", 1, 0),
        ("import os as o\nx = o.environ.get('A')", 1, 0),
        ("from os import environ\nx = environ['A']", 1, 0),
        ("from os import getenv", 1, 0),
        ("import os\npath = os.path.join('a', 'b')", 0, 0),
        ("@app.exception_handler(ValueError)\ndef f(e): ...", 0, 1),
        ("@router.exception_handler([A, B])\ndef f(e): ...", 0, 1),
        ("@app.not_found\ndef f(e): ...", 0, 1),
        ("app.exception_handler(ValueError)(f)", 0, 1),
        ("app.exception_handler_manager.update_exception_handlers({})", 0, 1),
        ("from cardops.api.errors import error_response", 0, 1),
        ("from cardops.api import errors\nerrors.error_response(s, 'c', 'm')", 0, 1),
        ("@router.get('/x')\ndef f(): ...", 0, 0),
    ],
)
def test_the_checks_see_each_way_of_doing_it(source: str, environment: int, handlers: int) -> None:
    found = violations(source)
    assert (len(found[0]), len(found[1])) == (environment, handlers)
