"""Reproducible Lambda assets (issue 10 item 6): the same lock gives the same asset hash anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from infra import bundling

pytestmark = pytest.mark.infra


def _asset_hash(directory: Path) -> str:
    """The hash CDK gives a ``Code.from_asset`` directory (source hash, the layer's excludes)."""
    return cdk.FileSystem.fingerprint(str(directory), exclude=bundling.LAYER_EXCLUDES)


def test_two_builds_in_different_directories_have_the_same_asset_hash(
    tmp_path: Path, template: dict[str, Any]
) -> None:
    cached = bundling.layer_directory()  # built by the session's CLI synth (or earlier)
    fresh = bundling.build_layer(tmp_path / "elsewhere" / "layer")
    assert _asset_hash(fresh) == _asset_hash(cached)
    [layer] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert layer["Metadata"]["aws:asset:path"] == f"asset.{_asset_hash(fresh)}"


def test_layer_has_no_machine_specific_files() -> None:
    site = bundling.layer_directory() / "python"
    assert not (site / "bin").exists()
    assert not list(site.rglob("__pycache__")) and not list(site.rglob("*.pyc"))
    for info in site.glob("*.dist-info"):
        for name in bundling.INSTALL_NOISE:
            assert not (info / name).exists(), info / name
    assert list(site.glob("pydantic_core*.dist-info")), "the layer holds the locked packages"


def test_cache_key_follows_lock_python_and_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = tmp_path / "requirements-lambda.lock"
    lock.write_text("a==1\n")
    key = bundling.cache_key("3.14", lock)
    assert bundling.cache_key("3.13", lock) != key
    monkeypatch.setattr(bundling, "RECIPE_VERSION", "old")
    assert bundling.cache_key("3.14", lock) != key
    monkeypatch.undo()
    lock.write_text("a==2\n")
    assert bundling.cache_key("3.14", lock) != key
