"""The feed infrastructure in the synthesized template (one synth per session, tests/infra/conftest)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _feed_function_id(template: dict[str, Any]) -> str:
    [fid] = [
        k
        for k, v in _of_type(template, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == "cardops.handlers.feed_sync.handler"
    ]
    return fid


def test_schedule_is_weekdays_at_six_in_tokyo(template: dict[str, Any]) -> None:
    [schedule] = [
        s
        for s in _of_type(template, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [_feed_function_id(template), "Arn"]}
    ]
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 6 ? * MON-FRI *)"
    assert props["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert props["State"] == "ENABLED"
    assert props["Target"]["Arn"] == {"Fn::GetAtt": [_feed_function_id(template), "Arn"]}
    assert json.loads(props["Target"]["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}


def test_feed_and_evidence_buckets_are_private_encrypted_versioned_logged(template: dict[str, Any]) -> None:
    buckets = _of_type(template, "AWS::S3::Bucket")
    outputs = template["Outputs"]
    for output in ("FeedBucketName", "EvidenceBucketName"):
        ref = outputs[output]["Value"]["Ref"]
        props = buckets[ref]["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["LoggingConfiguration"]["DestinationBucketName"]
        policies = [
            p
            for p in _of_type(template, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": ref}
        ]
        statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
        assert any(
            s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        )


def test_feed_sync_role_reads_only_feeds_and_writes_no_objects(template: dict[str, Any]) -> None:
    fid = _feed_function_id(template)
    function = template["Resources"][fid]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    env = function["Properties"]["Environment"]["Variables"]
    assert "FEED_BUCKET_NAME" in env
    statements = [
        s
        for p in _of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"].get("Roles", [])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "s3:GetObject" in actions and "s3:ListBucket" in actions
    assert not any(a.startswith("s3:Put") or a.startswith("s3:Delete") or a == "s3:*" for a in actions)
    assert not any(a.startswith("dynamodb:*") or a == "dynamodb:Scan" for a in actions)
    get = next(s for s in statements if s["Action"] == "s3:GetObject")
    assert json.dumps(get["Resource"]).endswith('"/feeds/*"]]}')
    invoke = next(s for s in statements if s["Action"] == "lambda:InvokeFunction")
    assert invoke["Resource"] == {"Fn::GetAtt": [fid, "Arn"]}


def test_sync_time_is_configurable_and_checked() -> None:
    from infra.constructs.feeds import sync_time

    assert sync_time(None) == ("6", "0")
    assert sync_time("21:05") == ("21", "5")
    for bad in ("24:00", "6", "06:60", "six"):
        with pytest.raises(ValueError, match="HH:MM"):
            sync_time(bad)
