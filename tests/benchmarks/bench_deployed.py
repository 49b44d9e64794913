"""What is deployed, read from the synthesized template (the infra tests' own ``npx cdk synth``):
each function's memory and architecture and its log group's retention and class. The cost model
prices Lambda and CloudWatch Logs from these figures, so a change to the stack changes the model."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

STAGE = "prod"


def figures(template: dict[str, Any]) -> dict[str, float]:
    """Per function key (``POWERTOOLS_SERVICE_NAME`` is ``cardops-{key}``): ``memory_mb``,
    ``arm64`` (1 or 0), ``log_retention_days`` and ``log_infrequent_access`` (1 or 0)."""
    resources = template["Resources"]
    found: dict[str, float] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        service = properties.get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME", "")
        if not service.startswith("cardops-"):
            continue  # CDK's own helpers (custom resources)
        key = service.removeprefix("cardops-")
        found[f"{key}: memory_mb"] = float(properties.get("MemorySize", 128))
        found[f"{key}: arm64"] = float(properties.get("Architectures", ["x86_64"]) == ["arm64"])
        group_ref = properties.get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
        group = resources.get(group_ref, {}).get("Properties", {}) if group_ref else {}
        found[f"{key}: log_retention_days"] = float(group.get("RetentionInDays", 0))
        found[f"{key}: log_infrequent_access"] = float(group.get("LogGroupClass") == "INFREQUENT_ACCESS")
    return found


def run() -> dict[str, float]:
    from tests.infra.conftest import synthesize

    with tempfile.TemporaryDirectory(prefix="cardops-bench-synth-") as directory:
        assembly = synthesize(Path(directory) / "cdk.out")
        template = json.loads((assembly / f"cardops-{STAGE}.template.json").read_text())
    return figures(template)
