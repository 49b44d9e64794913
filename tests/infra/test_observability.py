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
