"""The support construct in the synthesized template: schedule, alarm, grants, outputs."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.test_stack import _actions, _policy_statements, resources_of


def test_monthly_report_runs_weekdays_at_nine_tokyo(template: dict[str, Any]) -> None:
    schedules = [
        s["Properties"]
        for s in resources_of(template, "AWS::Scheduler::Schedule").values()
        if "SupportReportFunction" in json.dumps(s["Properties"]["Target"])
    ]
    assert len(schedules) == 1
    assert schedules[0]["ScheduleExpression"] == "cron(0 9 ? * MON-FRI *)"
    assert schedules[0]["ScheduleExpressionTimezone"] == "Asia/Tokyo"


def test_sla_missed_alarm_watches_the_support_metric(template: dict[str, Any]) -> None:
    alarms = [
        a["Properties"]
        for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "SupportSlaMissed"
    ]
    assert len(alarms) == 1 and alarms[0]["Namespace"] == "cardops"
    assert alarms[0]["Dimensions"] == [{"Name": "service", "Value": "support"}]
    assert alarms[0]["AlarmActions"], "the alarm notifies the topic"


def test_support_grants(template: dict[str, Any]) -> None:
    report = _actions(_policy_statements(template, "SupportReportRole"))
    assert {"dynamodb:Query", "s3:PutObject"} <= report
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "s3:GetObject"} & report
    task = _actions(_policy_statements(template, "SupportCaseRole"))
    assert {"dynamodb:PutItem", "dynamodb:Query"} <= task and "states:StartExecution" not in task
    for role in ("AdminRole", "ChangesRole", "CaptureDeadlineRole"):
        assert "states:StartExecution" in _actions(_policy_statements(template, role)), role
    assert "states:StopExecution" in _actions(_policy_statements(template, "AdminRole"))
    assert {"SupportCaseStateMachineArn", "SupportReportsBucketName"} <= set(template["Outputs"])
