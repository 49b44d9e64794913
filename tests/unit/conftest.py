"""Unit tests are network-free: every test under ``tests/unit`` runs with sockets disabled
(``pytest-socket``), so a unit test that reaches AWS, a provider or any server fails instead of
passing slowly. A test that drives a scripted server on 127.0.0.1 says so with
``pytest.mark.allow_hosts(["127.0.0.1"])``; Unix sockets stay allowed (``--allow-unix-socket`` in
``pyproject.toml``) for the event loop's self-pipe. Integration and e2e tests talk to moto server and
the sandbox over 127.0.0.1 and are left alone.
"""

from __future__ import annotations

from pathlib import Path

import aws_xray_sdk.core  # noqa: F401 - see below
import pytest

# The X-Ray SDK creates its UDP emitter's socket when first imported (Powertools' Tracer imports it
# with the admin and webhook handlers); it sends nothing while tracing is disabled, as in tests.
# Importing it here, before any test runs, keeps that one socket out of the guard.

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UNIT not in item.path.parents:
            continue
        if item.get_closest_marker("allow_hosts") or item.get_closest_marker("enable_socket"):
            continue
        item.add_marker(pytest.mark.disable_socket)
