"""Lambda assets without Docker.

The function code is ``functions/`` minus the CLI and the sandbox. Its dependencies become one layer
built by ``pip install --platform manylinux2014_x86_64 --only-binary=:all:`` from
``requirements-lambda.lock`` into a cache keyed by the lock's hash, so only the first synth after a
lock change downloads anything.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-lambda.lock"
CACHE = ROOT / ".cache" / "lambda-layer"
PYTHON_VERSION = "3.14"
CODE_EXCLUDES = ["cardops/cli", "cardops/sandbox", "**/__pycache__", "*.egg-info", "**/*.pyc"]


def layer_directory() -> Path:
    """The built dependency tree (``python/…``), built once per lock-file content."""
    digest = hashlib.sha256(LOCK.read_bytes() + PYTHON_VERSION.encode()).hexdigest()[:16]
    target = CACHE / digest
    if (target / ".complete").exists():
        return target
    staging = CACHE / f"{digest}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--require-hashes", "--no-deps", "--only-binary=:all:",
            "--platform", "manylinux2014_x86_64", "--implementation", "cp",
            "--python-version", PYTHON_VERSION,
            "--target", str(staging / "python"), "-r", str(LOCK),
        ],
        check=True,
    )  # fmt: skip
    (staging / ".complete").write_text(digest)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def dependencies_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(layer_directory()), exclude=[".complete"])


def function_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(ROOT / "functions"), exclude=CODE_EXCLUDES)
