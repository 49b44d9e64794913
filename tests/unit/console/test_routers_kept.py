"""Documenting the console (the OpenAPI document builds a console of its own) must leave the page
routers with the console that serves requests: each router reads the request (its ``context`` view,
its ``current_event``) from the last resolver that included it, and the sandbox runs both in one
process — before, every console page answered 500 (``KeyError: 'view'``) once the document was built."""

from __future__ import annotations

from typing import Any

from cardops.api.openapi import console_paths
from cardops.console.app import ROUTERS, ConsoleDeps, build


def test_building_the_document_leaves_the_routers_with_the_serving_console() -> None:
    def verifier() -> Any:
        raise AssertionError("never asked: nothing is served here")

    serving = build(ConsoleDeps(verifier=verifier))
    assert all(router.api_resolver is serving for router in ROUTERS)
    assert "/console/finance/negative-balances" in console_paths()
    assert all(router.api_resolver is serving for router in ROUTERS)
