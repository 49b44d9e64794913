"""One CDK synth per test session (it takes ~25 s); every infra test reads the same template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    build_app(stage="test", outdir=str(outdir)).synth()
    yield outdir


@pytest.fixture(scope="session")
def template_path(cloud_assembly: Path) -> Path:
    return cloud_assembly / "cardops-test.template.json"


@pytest.fixture(scope="session")
def template(template_path: Path) -> dict[str, Any]:
    return json.loads(template_path.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def cdk_template(template: dict[str, Any]) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(template)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # keep every test that needs the synth on one xdist worker, so it is synthesized once
    for item in items:
        if "tests/infra" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("cdk"))
