"""Per stage: a dev stack can be destroyed (``cdk destroy``), prod keeps what people act on."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra

KEPT_IN_PROD = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::KMS::Key")


def _of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _queue(template: dict[str, Any], output: str) -> dict[str, Any]:
    return template["Resources"][template["Outputs"][output]["Value"]["Ref"]]  # type: ignore[no-any-return]


def _dead_letter_queue(template: dict[str, Any]) -> dict[str, Any]:
    return _queue(template, "DeadLetterQueueUrl")


def test_dev_stack_destroys_everything_and_empties_its_buckets(template: dict[str, Any]) -> None:
    for logical, resource in template["Resources"].items():
        # API Gateway's CloudWatch role is an account-wide setting other APIs rely on: CDK keeps it
        if logical.startswith(("ApiRestApiAccount", "ApiRestApiCloudWatchRole")):
            continue
        assert resource.get("DeletionPolicy", "Delete") == "Delete", logical
    buckets = _of(template, "AWS::S3::Bucket")
    emptied = {
        json.dumps(r["Properties"]["BucketName"])
        for r in _of(template, "Custom::S3AutoDeleteObjects").values()
    }
    assert len(buckets) == 4  # access logs, feeds, evidence, support reports
    assert emptied == {json.dumps({"Ref": logical}) for logical in buckets}
    [table] = _of(template, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["DeletionProtectionEnabled"] is False


def test_prod_stack_retains_data_and_operator_cases(prod_template: dict[str, Any]) -> None:
    for kind in KEPT_IN_PROD:
        resources = _of(prod_template, kind)
        assert resources, kind
        for logical, resource in resources.items():
            assert resource["DeletionPolicy"] == "Retain", logical
            assert resource["UpdateReplacePolicy"] == "Retain", logical
    for output in ("OperatorQueueUrl", "DeadLetterQueueUrl"):
        assert _queue(prod_template, output)["DeletionPolicy"] == "Retain", output
    assert not _of(prod_template, "Custom::S3AutoDeleteObjects")
    [table] = _of(prod_template, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_no_depends_on_repeats_a_reference(templates: dict[str, dict[str, Any]]) -> None:
    from infra.dependencies import referenced

    for template in templates.values():
        for logical, resource in template["Resources"].items():
            implied = referenced(resource.get("Properties", {}))
            assert not set(resource.get("DependsOn", [])) & implied, logical
