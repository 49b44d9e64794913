"""Every handler imports with only what Lambda gives it (issue 10 item 7).

A subprocess started with ``-I -S`` (isolated, no site-packages) sees the standard library, the
function asset exactly as CDK staged it (``functions/`` minus the CLI and the sandbox), the
dependency layer built from ``requirements-lambda.lock`` by the real recipe, and boto3/botocore/
s3transfer (which the Lambda runtime provides and the lock leaves out). Python 3.14 is not
installable here, so the layer is built for the running interpreter: this proves the lock and the
asset are complete and nothing imports the CLI, the sandbox or a dev dependency; it cannot prove
the 3.14 wheels import on 3.14 (mypy and ruff check the code for 3.14 in ``make lint``). Lambda runs
on arm64 (``bundling.PLATFORM``); this machine's wheels (``HOST_PLATFORM``) stand in for them here,
and ``test_the_lock_has_aarch64_wheels_for_lambda`` checks the deployed layer's own binaries.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cardops import resources
from infra import bundling

pytestmark = pytest.mark.infra

RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
#: wheels this machine can load (the deployed layer is built for ``bundling.PLATFORM``)
HOST_PLATFORM = f"manylinux2014_{platform.machine()}"

PROBE = """
import importlib, json, sys
asset, layer, runtime, handlers = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
sys.path[:0] = [asset, layer, runtime]
failures = {}
for key, handler in handlers.items():
    module, attribute = handler.rsplit(".", 1)
    try:
        if not callable(getattr(importlib.import_module(module), attribute)):
            failures[key] = f"{handler} is not callable"
    except Exception as exc:
        failures[key] = f"{type(exc).__name__}: {exc}"
stdlib = (sys.base_prefix, sys.base_exec_prefix)
outside = sorted(
    name for name, module in list(sys.modules.items())
    if (path := getattr(module, "__file__", None))
    and not path.startswith((asset, layer, runtime, *stdlib))
)
print(json.dumps({"failures": failures, "outside": outside, "version": list(sys.version_info[:2])}))
"""


@pytest.fixture(scope="session")
def function_asset(cloud_assembly: Path, template: dict[str, Any]) -> Path:
    [path] = {
        r["Metadata"]["aws:asset:path"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "cardops.handlers" in r["Properties"].get("Handler", "")
    }
    return cloud_assembly / path


@pytest.fixture(scope="session")
def runtime_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """boto3, botocore and s3transfer alone, as the Lambda runtime provides them."""
    import boto3

    site = Path(boto3.__file__).resolve().parent.parent
    runtime = tmp_path_factory.mktemp("lambda-runtime")
    for name in RUNTIME_PROVIDED:
        (runtime / name).symlink_to(site / name, target_is_directory=True)
    return runtime


def test_the_lock_has_wheels_for_the_running_python() -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    layer = bundling.layer_directory(python_version=version, platform=HOST_PLATFORM) / "python"
    assert list(layer.glob("pydantic_core/_pydantic_core.cpython-*.so"))


def test_the_lock_has_aarch64_wheels_for_lambda() -> None:
    """Every compiled module of the deployed layer (Python 3.14) is built for Graviton."""
    assert bundling.PLATFORM.endswith("_aarch64")
    layer = bundling.layer_directory() / "python"
    binaries = sorted(layer.rglob("*.so"))
    assert binaries, "the layer holds compiled packages (pydantic-core, cryptography, …)"
    for binary in binaries:
        header = binary.read_bytes()[:20]
        assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183, (
            binary
        )  # EM_AARCH64


def test_every_handler_imports_from_the_asset_and_the_layer_only(
    function_asset: Path, runtime_packages: Path
) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    layer = bundling.layer_directory(python_version=version, platform=HOST_PLATFORM) / "python"
    assert not (function_asset / "cardops" / "cli").exists()
    assert not (function_asset / "cardops" / "sandbox").exists()
    handlers = {key: spec.handler for key, spec in resources.FUNCTIONS.items()}
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "ap-northeast-1"}
    result = subprocess.run(
        [
            sys.executable, "-I", "-S", "-c", PROBE,
            str(function_asset), str(layer), str(runtime_packages), json.dumps(handlers),
        ],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failures"] == {}
    assert report["outside"] == []
    assert report["version"] == list(sys.version_info[:2])
