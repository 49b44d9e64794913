"""Small timing helpers: the machines are shared and noisy, so every figure is a ratio to a floor
measured in the same run, taken as the median of several repeats."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def per_call_seconds(fn: Callable[[], object], *, number: int, repeat: int = 5) -> float:
    """Median over ``repeat`` rounds of the mean time of one call."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def import_seconds(module: str, *, repeat: int = 5) -> float:
    """Fresh-interpreter import time of ``module`` (best of ``repeat``), minus an empty interpreter."""

    def run(code: str) -> float:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            best = min(best, time.perf_counter() - start)
        return best

    return run(f"import {module}") - run("pass")


def import_cpu_seconds(
    code: str,
    *,
    repeat: int = 9,
    env: dict[str, str] | None = None,
    bytecode: str | None = None,
    setup: str = "",
) -> float:
    """CPU time (``time.process_time``) a fresh interpreter spends running ``code``, median of ``repeat``.

    Measured inside the child, so interpreter start-up and the machine's other load are left out.
    ``bytecode``: a directory for compiled modules (``PYTHONPYCACHEPREFIX``), filled by one unmeasured
    run first, so every module imports from byte-code; None compiles nothing ahead (with
    ``PYTHONDONTWRITEBYTECODE`` set, what has no byte-code is compiled on every import). ``setup``:
    run before the clock starts (the imports a measured first call needs)."""
    probe = f"{setup}\nimport time\nstart = time.process_time()\n{code}\nprint(time.process_time() - start)"
    environment = dict(os.environ if env is None else env)
    if bytecode is not None:
        environment["PYTHONPYCACHEPREFIX"] = bytecode
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [sys.executable, "-c", f"{setup}\n{code}"], check=True, capture_output=True, env=environment
        )

    def once() -> float:
        answer = subprocess.run(
            [sys.executable, "-c", probe], check=True, capture_output=True, text=True, env=environment
        )
        return float(answer.stdout.splitlines()[-1])

    return statistics.median(once() for _ in range(repeat))
