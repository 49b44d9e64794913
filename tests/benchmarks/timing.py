"""Small timing helpers: the machines are shared and noisy, so every figure is a ratio to a floor
measured in the same run, taken as the median of several repeats."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

#: local variables of the frame ``with_headroom`` runs code in: 128 KiB, so CPython gives the frame a
#: data-stack chunk of its own (256 KiB) and leaves 16,384 slots free above it
HEADROOM_SLOTS = 16384


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


def with_headroom(code: str) -> str:
    """A probe running ``code`` in a frame with a large free data stack above it, printing its CPU time.

    CPython 3.11 and 3.12 (this machine's 3.11; 3.13 and 3.14 branches fixed in March 2026,
    gh-142183) free a data-stack chunk (16 KiB) whenever the call that needed it returns, so code
    whose calls go up and down across a chunk's edge pays an mmap, a page fault and a munmap each
    time. Where the edge falls depends on how deep the stack already is: the webhook's import at the
    top level of ``-c`` made 3,030 munmaps (about 20 ms), the floor's none, and 400 slots deeper the
    floor made 2,700. Run in this frame, every call the code makes stays in one chunk, so a figure is
    the code's own work at whatever depth it would start.
    """
    body = textwrap.indent(code, "    ")
    # the frame's source is made in the child: 16,384 names pass no argument-length limit
    return (
        f"_names = ' = '.join(f'_{{i}}' for i in range({HEADROOM_SLOTS}))\n"
        "exec(f'def _measured():\\n    {_names} = None\\n    start = time.process_time()\\n' + "
        f"{body!r} + '\\n    return time.process_time() - start')\n"
        "print(_measured())"
    )


def import_cpu_seconds(
    code: str,
    *,
    repeat: int = 9,
    env: dict[str, str] | None = None,
    bytecode: str | None = None,
    setup: str = "",
    headroom: bool = True,
) -> float:
    """CPU time (``time.process_time``) a fresh interpreter spends running ``code``, median of ``repeat``.

    Measured inside the child, so interpreter start-up and the machine's other load are left out.
    ``bytecode``: a directory for compiled modules (``PYTHONPYCACHEPREFIX``), filled by one unmeasured
    run first, so every module imports from byte-code; None compiles nothing ahead (with
    ``PYTHONDONTWRITEBYTECODE`` set, what has no byte-code is compiled on every import). ``setup``:
    run before the clock starts (the imports a measured first call needs). ``headroom``: run ``code``
    in a frame with ``HEADROOM_SLOTS`` of data stack free above it (see ``with_headroom``); False runs
    it at the top level of ``-c``, where the interpreter here may pay for its chunk churn."""
    probe = f"{setup}\nimport time\n" + (
        with_headroom(code)
        if headroom
        else f"start = time.process_time()\n{code}\nprint(time.process_time() - start)"
    )
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
