"""Functions × AWS actions exercised by the tests, denied by their roles now and under other policies.

The integration tests (``provisioned``) and the sandbox of the end-to-end tests save every IAM
decision moto made for a function's role in ``reports/iam-access-*.json``. This prints, per function
and action: calls, how many were denied, and, with ``--before EXTRACT.json`` (a cached
``.cardops/iam/policies-*.json`` of an older template), how many those older policies would deny.

    .venv/bin/python -m tests.iam_report reports/iam-access-*.json [--before .cardops/iam/policies-….json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult

from cardops.sandbox import iam

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


def allowed_by(documents: dict[str, Any], action: str, resource: str) -> bool:
    results = [
        IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)
        for name, doc in documents.items()
        if not name.startswith("managed:")
    ]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--before", type=Path, help="an extract of older policies to compare with")
    args = parser.parse_args()
    before = json.loads(args.before.read_text()) if args.before else None
    calls: Counter[tuple[str, str]] = Counter()
    denied: Counter[tuple[str, str]] = Counter()
    denied_before: Counter[tuple[str, str]] = Counter()
    for log in args.logs:
        for chunk in json.loads(log.read_text()):
            resolved = None
            if before is not None:
                resolver = iam.Resolver(before, chunk["outputs"], REGION, ACCOUNT)
                resolved = {
                    key: {name: resolver.resolve(doc) for name, doc in spec["documents"].items()}
                    for key, spec in before["functions"].items()
                }
            for decision in chunk["decisions"]:
                function = iam.function_of(decision["principal"]) or "?"
                row = (function, decision["action"])
                calls[row] += 1
                denied[row] += not decision["allowed"]
                if resolved is not None:
                    denied_before[row] += not allowed_by(
                        resolved[function], decision["action"], decision["resource"]
                    )
    print(f"{'function':<26}{'action':<36}{'calls':>7}{'denied':>8}{'before':>8}")
    for row in sorted(calls):
        shown = str(denied_before[row]) if before is not None else "-"
        print(f"{row[0]:<26}{row[1]:<36}{calls[row]:>7}{denied[row]:>8}{shown:>8}")
    functions = {f for f, _ in calls}
    print(
        f"\n{len(functions)} functions, {len(calls)} function×action pairs, {sum(calls.values())} calls; "
        f"denied now {sum(denied.values())}"
        + (f", denied before {sum(denied_before.values())}" if before is not None else "")
    )


if __name__ == "__main__":
    main()
