"""Alarms and the dashboard are in the stack (SPEC §9), and every alarm notifies the alarm topic."""

from __future__ import annotations

import json
from typing import Any


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"
    }


def described(template: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [
        p for p in alarms(template).values() if str(p.get("AlarmDescription", "")).startswith(f"[{name}]")
    ]
    assert len(matches) == 1, f"alarm {name} missing"
    return matches[0]


def test_each_required_alarm_exists(template: dict[str, Any]) -> None:
    for name in (
        "DeadLetterQueueNotEmpty",
        "WebhookServerErrorRate",
        "WebhookClientErrorRate",
        "ProcessorErrors",
        "EventsParked",
        "FeedSyncFailed",
        "FeedSyncTenantSkippedOrFailed",
    ):
        described(template, name)
    descriptions = " ".join(str(p.get("AlarmDescription", "")) for p in alarms(template).values())
    assert "automatic refund" in descriptions.lower()
    assert (
        sum(
            "executions failed" in str(p.get("AlarmDescription", "")).lower()
            for p in alarms(template).values()
        )
        >= 2
    )


def test_dlq_alarm_watches_the_dead_letter_queue(template: dict[str, Any]) -> None:
    alarm = described(template, "DeadLetterQueueNotEmpty")
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    queue_ref = json.dumps(alarm["Dimensions"])
    assert "EventsDeadLetterQueue" in queue_ref
    assert alarm["Threshold"] == 1


def test_webhook_rate_alarms_use_the_webhook_metrics(template: dict[str, Any]) -> None:
    alarm = described(template, "WebhookServerErrorRate")
    names = {m.get("MetricStat", {}).get("Metric", {}).get("MetricName") for m in alarm["Metrics"]}
    assert {"Webhook5xx", "WebhookAccepted", "WebhookDuplicate", "Webhook4xx"} <= names


def test_every_alarm_notifies_the_topic(template: dict[str, Any]) -> None:
    topics = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::SNS::Topic"]
    assert len(topics) == 1
    for name, props in alarms(template).items():
        assert any(topics[0] in json.dumps(action) for action in props.get("AlarmActions", [])), name


def test_dashboard_exists(template: dict[str, Any]) -> None:
    dashboards = [v for v in template["Resources"].values() if v["Type"] == "AWS::CloudWatch::Dashboard"]
    assert len(dashboards) == 1
    body = json.dumps(dashboards[0]["Properties"]["DashboardBody"])
    for needle in ("Webhooks", "Event processing", "Workflows", "Card statement feeds", "Alarms"):
        assert needle in body
    assert "DashboardName" in template["Outputs"] and "AlarmTopicArn" in template["Outputs"]


def _only(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    [(logical, resource)] = [(k, v) for k, v in template["Resources"].items() if v["Type"] == kind]
    return logical, resource


def test_topic_key_is_customer_managed_rotated_and_usable_by_cloudwatch(template: dict[str, Any]) -> None:
    key_id, key = _only(template, "AWS::KMS::Key")
    _, topic = _only(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert "alias/aws/sns" not in json.dumps(template)
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [
        s for s in statements if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert len(cloudwatch) == 1 and cloudwatch[0]["Effect"] == "Allow"
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_alarm_email_from_context_subscribes_to_the_topic(templates: dict[str, dict[str, Any]]) -> None:
    from tests.infra.conftest import ALARM_EMAIL

    for template in templates.values():
        topic_id, _ = _only(template, "AWS::SNS::Topic")
        _, subscription = _only(template, "AWS::SNS::Subscription")
        assert subscription["Properties"] == {
            "Protocol": "email",
            "Endpoint": ALARM_EMAIL,
            "TopicArn": {"Ref": topic_id},
        }


def test_crashes_alarm_on_function_errors_and_api_5xx(template: dict[str, Any]) -> None:
    for name, function in (("WebhookFunctionErrors", "PaymentsWebhook"), ("AdminFunctionErrors", "ApiAdmin")):
        alarm = described(template, name)
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
            "AWS/Lambda",
            "Errors",
            "Sum",
        )
        assert function in json.dumps(alarm["Dimensions"])
        assert alarm["Threshold"] == 1
    api = described(template, "ApiServerErrors")
    assert (api["Namespace"], api["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert {d["Name"] for d in api["Dimensions"]} == {"ApiName", "Stage"}
    # the providers' door (WebhookApiUrl) is an HTTP API: its 5xx metric is per ApiId and stage
    webhooks = described(template, "WebhookApiServerErrors")
    assert (webhooks["Namespace"], webhooks["MetricName"], webhooks["Statistic"]) == (
        "AWS/ApiGateway",
        "5xx",
        "Sum",
    )
    assert {d["Name"] for d in webhooks["Dimensions"]} == {"ApiId", "Stage"}
    assert "WebhookApi" in json.dumps(webhooks["Dimensions"])
    # the platform's door (AdminApiUrl) likewise
    admin = described(template, "AdminApiServerErrors")
    assert (admin["Namespace"], admin["MetricName"], admin["Threshold"]) == ("AWS/ApiGateway", "5xx", 5)
    assert "AdminApi" in json.dumps(admin["Dimensions"])


def test_parked_events_alarm_on_the_processor_metric(template: dict[str, Any]) -> None:
    alarm = described(template, "EventsParked")
    assert alarm["MetricName"] == "EventParked" and alarm["Namespace"] == "cardops"
    assert alarm["Threshold"] == 1
