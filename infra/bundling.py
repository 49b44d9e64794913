"""Lambda assets without Docker, reproducible from the lock file.

The function code is ``functions/`` minus the CLI and the sandbox. Its dependencies become one layer
built by ``pip install --platform manylinux2014_aarch64 --only-binary=:all: --no-compile`` from
``requirements-lambda.lock`` into a cache keyed by the lock's hash, the target Python and the build
recipe, so only the first synth after a change downloads anything.

What pip writes that depends on the machine or the moment is left out (``bin/`` scripts carry the
building interpreter's path; ``RECORD`` lists their hashes; ``INSTALLER``, ``REQUESTED``,
``direct_url.json`` and byte-code describe the install, not the package), so the same lock gives
the same CDK asset hash everywhere and a deploy without changes publishes nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-lambda.lock"
CACHE = ROOT / ".cache" / "lambda-layer"
PYTHON_VERSION = "3.14"
#: the functions run on Graviton (``infra/constructs/kernel.ARCHITECTURE``)
PLATFORM = "manylinux2014_aarch64"
#: bump when the recipe below changes, so caches built by an older recipe are rebuilt
RECIPE_VERSION = "2"
CODE_EXCLUDES = ["cardops/cli", "cardops/sandbox", "**/__pycache__", "*.egg-info", "**/*.pyc"]
LAYER_EXCLUDES = [".complete"]
#: per-install files in ``*.dist-info`` that differ between machines or runs
INSTALL_NOISE = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")


def build_layer(
    target: Path, *, python_version: str = PYTHON_VERSION, lock: Path = LOCK, platform: str = PLATFORM
) -> Path:
    """Install the lock into ``target/python`` for Lambda's platform (or ``platform``: the import test
    loads the layer on this machine), without machine-specific files."""
    site = target / "python"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--require-hashes", "--no-deps", "--only-binary=:all:", "--no-compile",
            "--platform", platform, "--implementation", "cp",
            "--python-version", python_version,
            "--target", str(site), "-r", str(lock),
        ],
        check=True,
    )  # fmt: skip
    shutil.rmtree(site / "bin", ignore_errors=True)
    for cache in sorted(site.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for info in site.glob("*.dist-info"):
        for name in INSTALL_NOISE:
            (info / name).unlink(missing_ok=True)
    return target


def cache_key(python_version: str = PYTHON_VERSION, lock: Path = LOCK, platform: str = PLATFORM) -> str:
    recipe = f"{python_version}|{platform}|{RECIPE_VERSION}".encode()
    return hashlib.sha256(lock.read_bytes() + recipe).hexdigest()[:16]


def layer_directory(python_version: str = PYTHON_VERSION, platform: str = PLATFORM) -> Path:
    """The built dependency tree (``python/…``), built once per lock content, Python, platform and
    recipe."""
    digest = cache_key(python_version, platform=platform)
    target = CACHE / digest
    if (target / ".complete").exists():
        return target
    # a private staging directory: concurrent synths (test workers) never build into one another
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{digest}.", suffix=".tmp", dir=CACHE))
    build_layer(staging, python_version=python_version, platform=platform)
    (staging / ".complete").write_text(digest)
    if target.exists() and not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)  # left by an interrupted older build
    try:
        staging.rename(target)
    except OSError:  # another process finished the same build first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
    return target


def dependencies_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(layer_directory()), exclude=LAYER_EXCLUDES)


def function_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(ROOT / "functions"), exclude=CODE_EXCLUDES)
