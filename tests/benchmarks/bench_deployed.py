"""What is deployed, read from the synthesized template (the infra tests' own ``npx cdk synth``):
each function's memory and architecture, its log group's retention and class, the level of
Lambda's own log lines, the table's class, and the APIs the webhooks and the admin calls arrive
on. The cost model prices Lambda, CloudWatch Logs, DynamoDB and API Gateway from these figures, so
a change to the stack changes the model."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

STAGE = "prod"
#: the webhook route's key on an HTTP API
WEBHOOK_ROUTE = "POST /webhooks/{provider}"
#: the admin routes' key on an HTTP API (``AdminApiUrl``, where the platform calls)
ADMIN_ROUTE = "ANY /admin/{proxy+}"
#: Lambda's system log levels by verbosity (``logging``'s numbers); a function without advanced
#: logging controls (text format) writes its platform lines as at INFO, Lambda's default
SYSTEM_LOG_LEVELS = {"DEBUG": 10.0, "INFO": 20.0, "WARN": 30.0}


def figures(template: dict[str, Any]) -> dict[str, float]:
    """Per function key (``POWERTOOLS_SERVICE_NAME`` is ``cardops-{key}``): ``memory_mb``,
    ``arm64`` (1 or 0), ``log_retention_days``, ``log_infrequent_access`` (1 or 0), ``log_json``
    (1 or 0), ``system_log_level`` (10 DEBUG, 20 INFO, 30 WARN) and, for a function an event source
    mapping invokes, ``event_batch_size``; ``stack: alarms``, ``composite_alarms``, ``dashboards``,
    ``secrets`` and ``sqs_event_sources`` (counts); and ``table: standard_ia`` (1
    when the table is in the Standard-IA class), ``webhooks: http_api`` (1 when an HTTP API
    serves the webhook route) and ``admin: http_api`` (1 when an HTTP API serves the admin routes)."""
    resources = template["Resources"]
    tables = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    if len(tables) != 1:
        raise ValueError(f"the cost model prices one table, the template has {len(tables)}")
    routes = {
        r["Properties"].get("RouteKey") for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    found: dict[str, float] = {
        "table: standard_ia": float(tables[0].get("TableClass") == "STANDARD_INFREQUENT_ACCESS"),
        # the door providers are registered at: an HTTP API route, or the REST API's
        "webhooks: http_api": float(WEBHOOK_ROUTE in routes),
        # the door the platform calls: the admin HTTP API's route, or the REST API's
        "admin: http_api": float(ADMIN_ROUTE in routes),
    }
    keys: dict[str, str] = {}  # logical id → function key
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        service = properties.get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME", "")
        if not service.startswith("cardops-"):
            continue  # CDK's own helpers (custom resources)
        key = keys[logical_id] = service.removeprefix("cardops-")
        found[f"{key}: memory_mb"] = float(properties.get("MemorySize", 128))
        found[f"{key}: arm64"] = float(properties.get("Architectures", ["x86_64"]) == ["arm64"])
        logging_config = properties.get("LoggingConfig", {})
        json_format = logging_config.get("LogFormat") == "JSON"
        found[f"{key}: log_json"] = float(json_format)
        level = logging_config.get("SystemLogLevel", "INFO") if json_format else "INFO"
        found[f"{key}: system_log_level"] = SYSTEM_LOG_LEVELS[level]
        group_ref = logging_config.get("LogGroup", {}).get("Ref")
        group = resources.get(group_ref, {}).get("Properties", {}) if group_ref else {}
        found[f"{key}: log_retention_days"] = float(group.get("RetentionInDays", 0))
        found[f"{key}: log_infrequent_access"] = float(group.get("LogGroupClass") == "INFREQUENT_ACCESS")
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            properties = resource["Properties"]
            key = keys.get(properties.get("FunctionName", {}).get("Ref", ""), "")
            if key:  # records per invocation (CloudFormation's default for a queue: 10)
                found[f"{key}: event_batch_size"] = float(properties.get("BatchSize", 10))
    # what is billed by the month whatever the traffic (``cost_model.fixed_per_month``)
    counted = {
        "alarms": "AWS::CloudWatch::Alarm",
        "composite_alarms": "AWS::CloudWatch::CompositeAlarm",
        "dashboards": "AWS::CloudWatch::Dashboard",
        "secrets": "AWS::SecretsManager::Secret",
    }
    for name, kind in counted.items():
        found[f"stack: {name}"] = float(sum(r["Type"] == kind for r in resources.values()))
    found["stack: sqs_event_sources"] = float(
        sum(
            r["Type"] == "AWS::Lambda::EventSourceMapping"
            and resources.get(_get_att_target(r["Properties"].get("EventSourceArn")), {}).get("Type")
            == "AWS::SQS::Queue"
            for r in resources.values()
        )
    )
    return found


def _get_att_target(arn: Any) -> str:
    """The logical id an ``Fn::GetAtt`` names ('' for anything else)."""
    target = arn.get("Fn::GetAtt", [""])[0] if isinstance(arn, dict) else ""
    return str(target)


def run() -> dict[str, float]:
    from tests.infra.conftest import synthesize

    with tempfile.TemporaryDirectory(prefix="cardops-bench-synth-") as directory:
        assembly = synthesize(Path(directory) / "cdk.out")
        template = json.loads((assembly / f"cardops-{STAGE}.template.json").read_text())
    return figures(template)
