"""The synthesized template: storage, queues, grants, API, outputs, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from cardops import resources


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_table_has_pitr_ttl_encryption_and_index(cdk_template: Any) -> None:
    cdk_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "BillingMode": "PAY_PER_REQUEST",
            "TableClass": "STANDARD_INFREQUENT_ACCESS",
            "GlobalSecondaryIndexes": Match.array_with([Match.object_like({"IndexName": "gsi1"})]),
        },
    )


def test_events_queue_has_a_dead_letter_queue(template: dict[str, Any]) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    redriven = [q for k, q in queues.items() if "RedrivePolicy" in q["Properties"] and k.startswith("Core")]
    assert redriven, "the events queue must redrive to a DLQ"
    for queue in redriven:
        assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    assert all(q["Properties"].get("SqsManagedSseEnabled") for q in queues.values())


def _policy_statements(template: dict[str, Any], role_fragment: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"].get("Roles", []))
        if role_fragment in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def test_webhook_function_is_least_privilege(template: dict[str, Any]) -> None:
    actions = _actions(_policy_statements(template, "WebhookRole"))
    assert {"dynamodb:PutItem", "sqs:SendMessage"} <= actions
    assert not any(
        a in actions
        for a in (
            "dynamodb:UpdateItem",  # it stores each body once and marks nothing (issue 13)
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
            "dynamodb:Scan",
            "dynamodb:*",
            "sqs:DeleteMessage",
        )
    )
    assert "secretsmanager:GetSecretValue" in actions


def test_processor_reads_the_queue_and_cannot_delete_items(template: dict[str, Any]) -> None:
    actions = _actions(_policy_statements(template, "ProcessorRole"))
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:GetItem", "dynamodb:PutItem"} <= actions
    assert "dynamodb:DeleteItem" not in actions and "dynamodb:Scan" not in actions


def test_admin_routes_are_iam_authorized_and_webhooks_are_open(template: dict[str, Any]) -> None:
    methods = resources_of(template, "AWS::ApiGateway::Method").values()
    auth = {(m["Properties"]["HttpMethod"], m["Properties"]["AuthorizationType"]) for m in methods}
    assert ("POST", "NONE") in auth
    assert ("ANY", "AWS_IAM") in auth
    resources = template["Resources"]

    def path_of(method: dict[str, Any]) -> str:
        ref = method["Properties"]["ResourceId"]
        return resources[ref["Ref"]]["Properties"]["PathPart"] if "Ref" in ref else "/"

    def parent_part(method: dict[str, Any]) -> str:
        ref = method["Properties"]["ResourceId"]
        parent = resources[ref["Ref"]]["Properties"]["ParentId"]
        return resources[parent["Ref"]]["Properties"]["PathPart"] if "Ref" in parent else ""

    for method in methods:
        under = {path_of(method), parent_part(method)}
        kind = method["Properties"]["AuthorizationType"]
        if "admin" in under:
            assert kind == "AWS_IAM", under
        else:  # webhooks verify signatures, the console its users' Cognito ID tokens, in the function
            assert kind == "NONE" and under & {"webhooks", "{provider}", "console"}, under


def test_the_admin_http_api_serves_the_rest_apis_admin_routes_behind_iam(template: dict[str, Any]) -> None:
    """``AdminApiUrl``: every admin route the REST API has (``ANY /admin/{proxy+}``), IAM authorized,
    to the same admin function in payload format 1.0 (the REST proxy event's shape); ``ApiUrl``
    keeps them (SPEC §8)."""
    resources = template["Resources"]
    rest_admin = [
        m["Properties"]
        for m in resources_of(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["AuthorizationType"] == "AWS_IAM"
    ]
    assert [
        (m["HttpMethod"], resources[m["ResourceId"]["Ref"]]["Properties"]["PathPart"]) for m in rest_admin
    ] == [
        ("ANY", "{proxy+}")  # /admin/{proxy+}
    ]
    # what the REST API enforces before the function there: nothing but IAM (its validator checks
    # request parameters, and the admin route requires none; no body models): the HTTP door needs
    # no more than its IAM authorizer to refuse what the REST door refuses
    assert "RequestModels" not in rest_admin[0] and not rest_admin[0].get("RequestParameters")
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources_of(template, "AWS::ApiGatewayV2::Route").values()
        if "/admin" in r["Properties"]["RouteKey"]
    }
    assert set(routes) == {"ANY /admin/{proxy+}"}
    route = routes["ANY /admin/{proxy+}"]
    assert route["AuthorizationType"] == "AWS_IAM"
    integration = resources[route["Target"]["Fn::Join"][1][1]["Ref"]]["Properties"]
    assert integration["PayloadFormatVersion"] == "1.0"
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert "ApiAdmin" in json.dumps(integration["IntegrationUri"])
    assert route["ApiId"] != next(
        r["Properties"]["ApiId"]
        for r in resources_of(template, "AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["RouteKey"] == "POST /webhooks/{provider}"
    )
    stage = next(
        s["Properties"]
        for s in resources_of(template, "AWS::ApiGatewayV2::Stage").values()
        if s["Properties"]["ApiId"] == route["ApiId"]
    )
    assert stage["StageName"] == "$default" and "DestinationArn" in stage["AccessLogSettings"]
    assert "AdminApiUrl" in template["Outputs"]


def test_outputs_follow_the_contract(template: dict[str, Any]) -> None:
    outputs = set(template["Outputs"])
    assert {
        "ApiUrl",
        "AwsEndpointUrl",
        "PayjpApiBaseUrl",
        "StripeApiBaseUrl",
        "SbpsApiBaseUrl",
        "TableName",
        "EventsQueueUrl",
        "DeadLetterQueueUrl",
    } <= outputs


def test_functions_are_traced_and_use_the_dependency_layer(template: dict[str, Any]) -> None:
    functions = resources_of(template, "AWS::Lambda::Function")
    cardops = {k: f for k, f in functions.items() if "cardops.handlers" in f["Properties"].get("Handler", "")}
    assert len(cardops) >= 3
    for fn in cardops.values():
        props = fn["Properties"]
        # Active or PassThrough by what invokes it (tests/infra/test_tracing.py)
        assert props["TracingConfig"]["Mode"] in ("Active", "PassThrough")
        assert props["Layers"]
        assert "WEBHOOK_SECRET_ID" in props["Environment"]["Variables"]
        assert not any("secret" in k.lower() and "ID" not in k for k in props["Environment"]["Variables"])


def test_functions_write_json_logs_at_their_own_level_without_lambdas_info_lines(
    template: dict[str, Any],
) -> None:
    """Advanced logging controls: JSON format, Lambda's own START/END/REPORT lines (INFO events)
    dropped by a WARN system level, and the application level the function's loggers use, so
    Lambda keeps every line Powertools writes (and the EMF metric lines, which Lambda files as INFO)."""
    functions = resources_of(template, "AWS::Lambda::Function")
    cardops = {
        k: f["Properties"]
        for k, f in functions.items()
        if "POWERTOOLS_SERVICE_NAME" in f["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert len(cardops) >= 10
    for name, props in cardops.items():
        logging = props["LoggingConfig"]
        assert logging["LogFormat"] == "JSON", name
        assert logging["SystemLogLevel"] == "WARN", name
        assert logging["ApplicationLogLevel"] == props["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"], (
            name
        )


def test_cdk_nag_acknowledgments_carry_reasons() -> None:
    from infra.nag import REASONS

    assert REASONS
    for entry in REASONS:
        assert entry["id"].startswith("AwsSolutions::AwsSolutions-")
        assert len(entry["reason"]) > 40


def test_the_janitor_schedules_every_period_and_its_worker_checks_from_a_queue(
    template: dict[str, Any],
) -> None:

    rules = resources_of(template, "AWS::Events::Rule")
    rate = f"rate({resources.JANITOR_PERIOD_MINUTES} minutes)"
    scheduled = [r for r in rules.values() if r["Properties"].get("ScheduleExpression") == rate]
    assert len(scheduled) == 1
    assert "JanitorFunction" in json.dumps(scheduled[0]["Properties"]["Targets"])
    # the scheduler only reads the due index and its checkpoint, and sends to the janitor queue
    scheduler = _policy_statements(template, "JanitorRole")
    assert {a for a in _actions(scheduler) if not a.startswith(("xray:", "logs:"))} == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    [query] = [s for s in scheduler if s["Action"] == "dynamodb:Query"]
    assert json.dumps(query["Resource"]).endswith('"/index/gsi2"]]}')
    # the worker: an SQS trigger with partial batch failures and bounded concurrency
    [mapping] = [
        m
        for m in resources_of(template, "AWS::Lambda::EventSourceMapping").values()
        if "JanitorWorkerFunction" in json.dumps(m["Properties"]["FunctionName"])
    ]
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"] >= 2
    actions = _actions(_policy_statements(template, "JanitorWorkerRole"))
    assert {
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
    } <= actions
    assert {"states:StartExecution", "states:StopExecution"} <= _actions(
        _policy_statements(template, "ChangesRole")
    )
    for role in ("ProcessorRole", "AdminRole", "JanitorRole", "JanitorWorkerRole"):  # writers only write
        deadline_grants = [
            s
            for s in _policy_statements(template, role)
            if "CaptureDeadlineStateMachine" in json.dumps(s["Resource"])
            and {"states:StartExecution", "states:StopExecution"} & _actions([s])
        ]
        assert deadline_grants == [], role
    queues = resources_of(template, "AWS::SQS::Queue")
    janitor_queue = queues["PaymentsJanitorQueue064F8463"]
    assert (
        janitor_queue["Properties"]["RedrivePolicy"]["maxReceiveCount"]
        == resources.JANITOR_QUEUE.max_receive_count
    )
    described = json.dumps(resources_of(template, "AWS::CloudWatch::Alarm"))
    for alarm in ("JanitorDeadLetters", "JanitorFallingBehind", "JanitorSchedulerFailed"):
        assert f"[{alarm}]" in described, alarm


def test_the_admin_api_may_list_and_redrive_parked_events(template: dict[str, Any]) -> None:
    statements = _policy_statements(template, "AdminRole")
    actions = _actions(statements)
    assert {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:SendMessage",
    } <= actions
    admin = next(
        f for f in resources_of(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "cardops.handlers.admin.handler"
    )  # fmt: skip
    assert "DEAD_LETTER_QUEUE_URL" in admin["Properties"]["Environment"]["Variables"]


def test_the_reconciliation_runs_daily_with_least_privilege_and_an_alarm(template: dict[str, Any]) -> None:
    rules = resources_of(template, "AWS::Events::Rule")
    daily = [r for r in rules.values() if r["Properties"].get("ScheduleExpression") == "cron(0 18 * * ? *)"]
    assert len(daily) == 1 and "ReconcileFunction" in json.dumps(daily[0]["Properties"]["Targets"])
    actions = _actions(_policy_statements(template, "ReconcileRole"))
    assert {"dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= actions
    assert {"secretsmanager:GetSecretValue", "sqs:SendMessage"} <= actions
    assert not {"dynamodb:Scan", "dynamodb:DeleteItem"} & actions
    assert not any(a.startswith("states:") for a in actions)
    alarms = resources_of(template, "AWS::CloudWatch::Alarm").values()
    [unresolved] = [a for a in alarms if a["Properties"].get("MetricName") == "LedgerDifferencesUnresolved"]
    assert unresolved["Properties"]["AlarmActions"]


def test_the_console_pool_requires_an_authenticator_app(template: dict[str, Any]) -> None:
    """Console users move money: TOTP MFA is required (no SMS), and a started sign-in lives as long
    as the console's cookie for it (``console.signin.CHALLENGE_SECONDS``)."""
    from cardops.console.signin import CHALLENGE_SECONDS

    (pool,) = (r["Properties"] for r in resources_of(template, "AWS::Cognito::UserPool").values())
    assert pool["MfaConfiguration"] == "ON"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    (client,) = (r["Properties"] for r in resources_of(template, "AWS::Cognito::UserPoolClient").values())
    assert client["AuthSessionValidity"] * 60 == CHALLENGE_SECONDS
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
