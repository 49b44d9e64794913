"""``make bench``: run every benchmark module, print the figures and write reports/benchmarks.md."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

import tests.benchmarks as package

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")


def main(only: list[str]) -> int:
    """Every benchmark, or those named (``python -m tests.benchmarks webhooks workflows``)."""
    results: dict[str, dict[str, float]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_") or (only and info.name.removeprefix("bench_") not in only):
            continue
        module = importlib.import_module(f"tests.benchmarks.{info.name}")
        start = time.perf_counter()
        figures = module.run()
        results[info.name.removeprefix("bench_")] = figures
        print(f"[{info.name}] ({time.perf_counter() - start:.1f} s)")
        for key, value in figures.items():
            print(f"  {key:<45} {value:>14.3f}")
    report = Path("reports") / "benchmarks.md"
    report.parent.mkdir(exist_ok=True)
    lines = [
        "# cardops benchmarks",
        "",
        f"Python {sys.version.split()[0]}; ratios are to floors measured in the same run.",
        "",
    ]
    for name, figures in results.items():
        lines += [f"## {name}", "", "| figure | value |", "| --- | ---: |"]
        lines += [f"| {key} | {value:,.3f} |" for key, value in figures.items()]
        lines.append("")
    extra = (
        getattr(importlib.import_module("tests.benchmarks.cost_model"), "report", None)
        if (Path(package.__path__[0]) / "cost_model.py").exists()
        else None
    )
    if extra is not None:
        lines += extra(results)
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
