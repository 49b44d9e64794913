"""The CLI path an operator uses: ``npx cdk synth`` reads ``cdk.json`` (its app and context flags).

The session fixture already ran the real CLI synth; these tests check what only that path proves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import ROOT

pytestmark = pytest.mark.infra


def test_cdk_json_context_is_accepted_and_applied(template: dict[str, Any]) -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    # CDK v1 flags abort every CLI synth in aws-cdk-lib v2
    assert "@aws-cdk/core:enableStackNameDuplicates" not in context
    assert context["@aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard"] is True
    # ...and the CLI synth applied them: the access-log destination is the ARN without ':*'
    [stage] = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"
    ]
    assert "Fn::GetAtt" not in json.dumps(stage["AccessLogSetting"]["DestinationArn"])
    assert "CDKMetadata" in template["Resources"]  # written only when the CLI drives the synth


def test_both_stages_come_from_one_synth(templates: dict[str, dict[str, Any]]) -> None:
    assert set(templates) == {"dev", "prod"}
    for stage, body in templates.items():
        assert body["Description"] == f"cardops ({stage})"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_has_no_errors_and_no_warnings(template_paths: dict[str, Path], stage: str) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--", str(template_paths[stage])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stage_list_parsing() -> None:
    from infra.app import stages

    assert stages("prod") == ["prod"]
    assert stages("dev, prod") == ["dev", "prod"]
    with pytest.raises(ValueError, match="at least one stage"):
        stages(" , ")
