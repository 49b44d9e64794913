"""One real ``npx cdk synth`` (reading ``cdk.json``) per test session; every infra test reads its output.

The synth covers the dev and prod stages in one run (``-c stage=dev,prod``) and subscribes a test
alarm address. Under pytest-xdist the workers share one output directory (the session's common temp
parent) and a file lock, so whichever worker asks first synthesizes and the others read the result.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")
ALARM_EMAIL = "ops@example.com"
SYNTH = [
    "npx", "--no-install", "cdk", "synth", "--quiet",
    "-c", f"stage={','.join(STAGES)}", "-c", f"alarmEmail={ALARM_EMAIL}",
]  # fmt: skip


def _session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every xdist worker of this session shares (and no other session)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def synthesize(outdir: Path) -> Path:
    """Run the CLI synth into ``outdir`` once; later callers (any worker) find ``.complete``."""
    outdir.parent.mkdir(parents=True, exist_ok=True)
    with (outdir.parent / "cdk-synth.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (outdir / ".complete").exists():
            env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
            result = subprocess.run(
                [*SYNTH, "--output", str(outdir)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                pytest.fail(f"npx cdk synth failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
            (outdir / ".complete").write_text("ok")
    return outdir


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield synthesize(_session_dir(tmp_path_factory) / "cdk.out")


@pytest.fixture(scope="session")
def template_paths(cloud_assembly: Path) -> dict[str, Path]:
    return {stage: cloud_assembly / f"cardops-{stage}.template.json" for stage in STAGES}


@pytest.fixture(scope="session")
def templates(template_paths: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return {stage: json.loads(path.read_text()) for stage, path in template_paths.items()}


@pytest.fixture(scope="session")
def template_path(template_paths: dict[str, Path]) -> Path:
    return template_paths["dev"]


@pytest.fixture(scope="session")
def template(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["dev"]


@pytest.fixture(scope="session")
def prod_template(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["prod"]


@pytest.fixture(scope="session")
def cdk_template(template: dict[str, Any]) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(template)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # keep every test that needs the synth on one xdist worker (the lock above is the second guard)
    for item in items:
        if "tests/infra" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("cdk"))
