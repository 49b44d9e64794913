"""The memory benchmark measures the function's own interpreter, not the process that started it:
``make bench`` is a big parent, and its children's peaks must not move with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks import bench_memory

ROOT = Path(__file__).resolve().parents[2]
#: the parent's ballast: written, so every page is resident (a bare allocation would not be)
BALLAST_MB = 400


def _init_mb_from_a_parent(ballast_mb: int) -> float:
    """``init_mb`` of a small module, called by a fresh interpreter holding ``ballast_mb`` MB."""
    code = (
        f"ballast = b'\\x01' * ({ballast_mb} << 20)\n"
        "from tests.benchmarks.bench_memory import init_mb\n"
        "print(init_mb('json'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True, timeout=30
    )
    return float(out.stdout.split()[-1])


def test_a_fat_parent_does_not_move_the_measured_init() -> None:
    lean = _init_mb_from_a_parent(0)
    fat = _init_mb_from_a_parent(BALLAST_MB)

    assert lean < 100  # an interpreter that imported json
    assert abs(fat - lean) < BALLAST_MB / 10, (lean, fat)


def test_the_measured_init_grows_with_what_the_module_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Still the child's peak: a module that holds 64 MB measures about 64 MB more."""
    (tmp_path / "holds_64_mb.py").write_text("HELD = b'\\x01' * (64 << 20)\n")
    (tmp_path / "holds_nothing.py").write_text("")
    original = bench_memory._environment

    def environment() -> dict[str, str]:
        env = original()
        return env | {"PYTHONPATH": f"{tmp_path}:{env['PYTHONPATH']}"}

    monkeypatch.setattr(bench_memory, "_environment", environment)
    grown = bench_memory.init_mb("holds_64_mb") - bench_memory.init_mb("holds_nothing")

    assert 60 < grown < 70, grown


def test_every_function_sized_below_the_default_is_measured() -> None:
    """Memory is lowered only on a measured peak: each function below 512 MB is one the memory
    benchmark drives (its handler's module, as deployed)."""
    from cardops import resources

    lowered = {key for key, spec in resources.FUNCTIONS.items() if spec.memory_mb < 512}
    assert lowered <= bench_memory.MEASURED.keys(), lowered - bench_memory.MEASURED.keys()
    for key in lowered:
        assert resources.FUNCTIONS[key].handler.rpartition(".")[0] == bench_memory.MEASURED[key]
