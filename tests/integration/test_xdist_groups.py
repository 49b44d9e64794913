"""The suite's ``xdist_group`` marks hold under ``make test``'s ``--dist loadgroup``
(``tests/xdist_groups.py``): a grouped module runs on one worker, starting its sandbox once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

#: the plugins these few tests do not need, left out so that each worker starts quickly
QUIET = [
    f"-pno:{name}" for name in ("cacheprovider", "hypothesispytest", "schemathesis", "anyio", "typeguard")
]
TESTS = "\n".join(f"def test_{n}() -> None:\n    pass\n" for n in range(4))
#: as tests/infra/conftest.py and tests/e2e/console/conftest.py mark their folders
FOLDER_CONFTEST = """
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "synth" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("by-conftest"))
"""


def test_grouped_tests_run_on_one_worker_however_they_were_marked(tmp_path: Path) -> None:
    """A module's ``pytestmark`` (the provider e2e modules) and a conftest's mark (the console, the
    synth): each group on one worker."""
    (tmp_path / "test_marked.py").write_text(
        f'import pytest\n\npytestmark = pytest.mark.xdist_group("one-sandbox")\n\n{TESTS}', encoding="utf-8"
    )
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "conftest.py").write_text(FOLDER_CONFTEST, encoding="utf-8")
    (tmp_path / "synth" / "test_added.py").write_text(TESTS, encoding="utf-8")
    (tmp_path / "test_loose.py").write_text(TESTS, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(  # as tests/conftest.py takes the hook
        "from tests.xdist_groups import pytest_collection_modifyitems  # noqa: F401\n", encoding="utf-8"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-n", "2", "--dist", "loadgroup", *QUIET],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout + run.stderr
    ran = [line.split() for line in run.stdout.splitlines() if " PASSED " in line]
    assert len(ran) == 12, run.stdout
    for module in ("test_marked.py", "test_added.py"):
        assert len({line[0] for line in ran if module in line[-1]}) == 1, run.stdout
