"""Least privilege per function (issue 10 item 3), read from the CLI-synthesized templates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cardops import resources

pytestmark = pytest.mark.infra

TABLE_ACTIONS_ALLOWED = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_of(template: dict[str, Any], key: str) -> str:
    handler = resources.FUNCTIONS[key].handler
    [function] = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]
    return function["Properties"]["Role"]["Fn::GetAtt"][0]  # type: ignore[no-any-return]


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        statement
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"].get("Roles", [])
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def _grants(template: dict[str, Any], key: str) -> list[tuple[str, str]]:
    """(action, resource JSON) pairs of a function's role."""
    return [
        (action, json.dumps(resource))
        for s in _statements(template, _role_of(template, key))
        if s["Effect"] == "Allow"
        for action in _as_list(s["Action"])
        for resource in _as_list(s["Resource"])
    ]


def _logical(template: dict[str, Any], output: str) -> str:
    return template["Outputs"][output]["Value"]["Ref"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_webhook_role_cannot_read_the_api_keys(templates: dict[str, dict[str, Any]], stage: str) -> None:
    template = templates[stage]
    webhook_secret = _logical(template, "ProviderSecretArn")
    api_keys = _logical(template, "ProviderApiKeysSecretArn")
    assert webhook_secret != api_keys
    grants = _grants(template, "webhook")
    reads = [resource for action, resource in grants if action.startswith("secretsmanager:")]
    assert reads and all(webhook_secret in r for r in reads)
    assert not any(r == '"*"' for action, r in grants if action.startswith("secretsmanager:"))
    assert not any(api_keys in resource for _, resource in grants)
    env = next(
        r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == resources.FUNCTIONS["webhook"].handler
    )
    assert "PROVIDER_API_KEYS_SECRET_ID" not in env


def test_only_provider_callers_read_the_api_keys(template: dict[str, Any]) -> None:
    api_keys = _logical(template, "ProviderApiKeysSecretArn")
    readers = {
        key
        for key in resources.FUNCTIONS
        if any(api_keys in resource for action, resource in _grants(template, key))
    }
    # eligibility looks up the saved card at PAY.JP; the IAM-enforced repayment tests need it
    assert readers == {
        "processor",
        "admin",
        "console",  # a store's capture and refund from the web console
        "janitor_worker",
        "reconcile",
        "capture_deadline",
        "repayment_eligibility",
        "repayment_charge",
    }


#: the stream read the change feed's event source grants its function (and no other)
STREAM_READ = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}


def test_no_role_has_wildcard_or_full_table_actions(template: dict[str, Any]) -> None:
    for key in resources.FUNCTIONS:
        actions = {action for action, _ in _grants(template, key)}
        table = {a for a in actions if a.startswith("dynamodb:")}
        # the change feed's function reads the stream; the feed sync alone stores in batches
        allowed = TABLE_ACTIONS_ALLOWED | (STREAM_READ if key == resources.CHANGE_FEED.function else set())
        allowed |= {"dynamodb:BatchWriteItem"} if key == "feed_sync" else set()
        assert table <= allowed, (key, table - allowed)
        assert not any(a.endswith(":*") or a == "*" for a in actions), key


def test_table_actions_per_function(template: dict[str, Any]) -> None:
    def table(key: str) -> set[str]:
        return {a for a, _ in _grants(template, key) if a.startswith("dynamodb:")}

    assert table("webhook") == {"dynamodb:PutItem"}  # put if absent: no mark, no read
    for step in (
        "repayment_validate",
        "repayment_eligibility",
        "repayment_await_decision",
        "repayment_finish",
    ):
        assert table(step) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, step
    for key in ("processor", "janitor_worker", "repayment_charge", "changes", "reconcile"):
        assert "dynamodb:Query" in table(key) and "dynamodb:DeleteItem" not in table(key), key
    # ledger postings (the change feed's listener) read the entries they would write by key, in one batch
    assert "dynamodb:BatchGetItem" in table("changes")
    assert table("changes") >= STREAM_READ
    assert "dynamodb:DeleteItem" in table("admin")
    assert {"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"} <= table("feed_sync")
    # the janitor's scheduler reads the due index and writes nothing but its checkpoint
    assert table("janitor") == {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"}


def test_admin_reads_no_state_machine_on_star(template: dict[str, Any]) -> None:
    star = [action for action, resource in _grants(template, "admin") if resource == '"*"']
    assert star and all(action.startswith("xray:") for action in star), star
    actions = {action for action, _ in _grants(template, "admin")}
    assert "states:ListExecutions" not in actions and "states:ListStateMachines" not in actions
    assert {"states:DescribeExecution", "states:GetExecutionHistory"} <= actions


def test_secrets_start_as_json_with_every_key_empty(template: dict[str, Any]) -> None:
    from cardops.kernel.secrets import PROVIDER_API_KEYS, WEBHOOK_SECRET_KEYS

    for output, keys in (
        ("ProviderSecretArn", WEBHOOK_SECRET_KEYS),
        ("ProviderApiKeysSecretArn", PROVIDER_API_KEYS),
    ):
        secret = template["Resources"][_logical(template, output)]["Properties"]
        assert "GenerateSecretString" not in secret
        assert json.loads(secret["SecretString"]) == dict.fromkeys(keys, "")


def test_the_console_holds_only_what_its_pages_use(template: dict[str, Any]) -> None:
    """Its pages capture, refund, request payouts and diagnose card lines: the table, the API keys, the
    capture's notifications, the refund alerts and the support cases their hooks open (finance's
    operator queue resolves them, stopping their timers); the support desk's decision and its preview
    of consent documents (read only); no webhook secret (issue 15)."""
    grants = _grants(template, "console")
    actions = {action for action, _ in grants}
    services = {action.split(":")[0] for action in actions}
    assert services <= {"dynamodb", "secretsmanager", "events", "sqs", "states", "s3", "kms", "logs", "xray"}
    reads = [resource for action, resource in grants if action.startswith("s3:")]
    assert {a for a in actions if a.startswith("s3:")} == {"s3:GetObject"}
    assert reads and all("/evidence/*" in resource for resource in reads), reads
    # support cases started by its hooks; the support desk's re-payment decision and the steps it shows
    assert {a for a in actions if a.startswith("states:")} <= {
        "states:StartExecution",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "states:StopExecution",  # finance resolves an operator-queue case: its timers stop
    }
    # stopping is only ever of a support case's execution (never a payment's or re-payment's workflow)
    support_cases = _logical(template, "SupportCaseStateMachineArn")
    stops = [resource for action, resource in grants if action == "states:StopExecution"]
    assert stops and all(support_cases in resource for resource in stops), stops
    assert not {a for a in actions if a.startswith("sqs:") and a != "sqs:SendMessage"} - {
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    webhook_secret = _logical(template, "ProviderSecretArn")
    assert not any(webhook_secret in resource for _, resource in _grants(template, "console"))
