"""``/docs`` in the sandbox: Swagger UI reading ``/openapi.json``, every asset served locally."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from cardops.sandbox import swagger
from cardops.sandbox.gateway import Gateway


def _unused(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    raise AssertionError("no function is called for /docs")


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway(
        webhook=_unused,
        admin=_unused,
        extra_routes={"/openapi.json": lambda: (200, "application/json", b"{}"), **swagger.routes()},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.allow_hosts(["127.0.0.1"])  # the real gateway on loopback
def test_docs_page_loads_only_assets_the_sandbox_serves(gateway: Gateway) -> None:
    page = urllib3.request("GET", f"{gateway.url}/docs", timeout=5)
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.data.decode()
    assert 'url: "/openapi.json"' in html
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(referenced) == len(swagger.ASSETS)
    for link in referenced:
        assert link.startswith("/docs/"), f"{link}: not served by the sandbox (no CDN at run time)"
        asset = urllib3.request("GET", f"{gateway.url}{link}", timeout=5)
        assert asset.status == 200, link
        assert len(asset.data) > 100, link
    bundle = urllib3.request("GET", f"{gateway.url}/docs/swagger-ui-bundle.js", timeout=5)
    assert b"SwaggerUIBundle" in bundle.data
