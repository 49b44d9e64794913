"""The template's role policies resolved to the sandbox's resources; what cannot be resolved fails."""

from __future__ import annotations

from typing import Any

import pytest

from cardops.sandbox.iam import Resolver, UnresolvedPolicy, extract

ACCOUNT, REGION = "123456789012", "ap-northeast-1"
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Table1": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "Queue1": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Machine1": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}},
        "Logs1": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
        "Extra1": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        "Role1": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Fn1": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "cardops.handlers.webhook.handler",
                "Role": {"Fn::GetAtt": ["Role1", "Arn"]},
            },
        },
        "Policy1": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"Roles": [{"Ref": "Role1"}], "PolicyDocument": {"Statement": []}},
        },
    },
    "Outputs": {
        "TableName": {"Value": {"Ref": "Table1"}},
        "EventsQueueUrl": {"Value": {"Ref": "Queue1"}},
        "CaptureDeadlineStateMachineArn": {"Value": {"Ref": "Machine1"}},
    },
}
OUTPUTS = {
    "TableName": "t-table",
    "EventsQueueUrl": "https://sqs.ap-northeast-1.amazonaws.com/123456789012/t-events",
    "CaptureDeadlineStateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:t-CaptureDeadline",
}


def resolver() -> Resolver:
    extracted = {"resources": extract_resources()}
    return Resolver(extracted, OUTPUTS, REGION, ACCOUNT)


def extract_resources() -> dict[str, Any]:
    outputs = {out["Value"]["Ref"]: key for key, out in TEMPLATE["Outputs"].items()}
    return {
        lid: {"type": body["Type"], "output": outputs.get(lid)} for lid, body in TEMPLATE["Resources"].items()
    }


def test_refs_and_arns_come_from_the_outputs() -> None:
    r = resolver()
    assert (
        r.resolve({"Fn::GetAtt": ["Table1", "Arn"]}) == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t-table"
    )
    assert r.resolve({"Fn::GetAtt": ["Queue1", "Arn"]}) == f"arn:aws:sqs:{REGION}:{ACCOUNT}:t-events"
    joined = {"Fn::Join": ["", [{"Fn::GetAtt": ["Table1", "Arn"]}, "/index/*"]]}
    assert r.resolve(joined).endswith("table/t-table/index/*")


def test_the_execution_arn_pattern_cdk_writes() -> None:
    name = {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": "Machine1"}]}]}
    pattern = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":execution:",
                name,
                ":*",
            ],
        ]
    }
    assert resolver().resolve(pattern) == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:t-CaptureDeadline:*"


def test_sub_with_variables_and_attributes() -> None:
    sub = {"Fn::Sub": ["${T}/x/${Table1.Arn}/${AWS::Region}", {"T": {"Ref": "Table1"}}]}
    assert resolver().resolve(sub) == f"t-table/x/arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t-table/{REGION}"


def test_a_resource_the_sandbox_does_not_provision_fails_loudly() -> None:
    with pytest.raises(UnresolvedPolicy, match="Extra1"):
        resolver().resolve({"Ref": "Extra1"})
    with pytest.raises(UnresolvedPolicy, match="Nope"):
        resolver().resolve({"Fn::GetAtt": ["Nope", "Arn"]})
    with pytest.raises(UnresolvedPolicy, match="Fn::ImportValue"):
        resolver().resolve({"Fn::ImportValue": "x"})


def test_log_groups_get_a_named_arn_never_a_wildcard() -> None:
    arn = resolver().resolve({"Fn::GetAtt": ["Logs1", "Arn"]})
    assert arn.startswith(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:") and "Logs1" in arn


def test_extract_finds_each_function_by_handler_or_fails() -> None:
    with pytest.raises(UnresolvedPolicy, match="processor"):
        extract(TEMPLATE)
