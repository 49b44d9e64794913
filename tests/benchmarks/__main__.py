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


#: the scale runs (100,000 items on moto, tens of minutes on a loaded machine; each writes its own
#: ``reports/scale-*.md``): run by name or with ``CARDOPS_BENCH_SCALE=1``, so ``make bench`` takes minutes
SCALE_BENCHMARKS = ("feed_sync", "janitor_scale")


def main(only: list[str]) -> int:
    """Every benchmark but the scale runs, or those named (``python -m tests.benchmarks webhooks``)."""
    scale = os.environ.get("CARDOPS_BENCH_SCALE", "") == "1"
    results: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        name = info.name.removeprefix("bench_")
        if not info.name.startswith("bench_") or (only and name not in only):
            continue
        if not only and not scale and name in SCALE_BENCHMARKS:
            skipped.append(name)
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
        f"Python {sys.version.split()[0]}; ratios are to floors measured in the same run; a figure's goal"
        " is the row after it.",
        "",
    ]
    if skipped:
        lines += [
            f"Not run here (scale runs: `CARDOPS_BENCH_SCALE=1 make bench`): {', '.join(skipped)}.",
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
