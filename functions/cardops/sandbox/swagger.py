"""Swagger UI at ``/docs`` in the sandbox, reading ``/openapi.json``.

The page and its assets are served from the files the ``swagger-ui-py`` package ships (Swagger UI's
own dist files), never from a CDN: the sandbox works with the network closed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

#: what an ``extra_routes`` entry of the sandbox gateway answers: status, content type, body
Answer = tuple[int, str, bytes]

DOCS_PATH = "/docs"
#: the dist files the page loads, with their content types
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cardops admin API (sandbox)</title>
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png">
<link rel="stylesheet" href="{base}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script src="{base}/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{spec}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
}});
</script>
</body>
</html>
"""


def static_dir() -> Path:
    """Swagger UI's dist files inside the installed ``swagger_ui`` package (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def page(spec_url: str = "/openapi.json") -> bytes:
    return PAGE.format(base=DOCS_PATH, spec=spec_url).encode()


def routes(spec_url: str = "/openapi.json") -> dict[str, Callable[[], Answer]]:
    """``/docs`` and its assets as sandbox gateway routes (GET); each asset is read when asked for."""
    html = page(spec_url)
    folder = static_dir()

    def asset(name: str, content_type: str) -> Callable[[], Answer]:
        return lambda: (200, content_type, (folder / name).read_bytes())

    served: dict[str, Callable[[], Answer]] = {
        DOCS_PATH: lambda: (200, "text/html; charset=utf-8", html),
        f"{DOCS_PATH}/": lambda: (200, "text/html; charset=utf-8", html),
    }
    for name, content_type in ASSETS.items():
        served[f"{DOCS_PATH}/{name}"] = asset(name, content_type)
    return served
