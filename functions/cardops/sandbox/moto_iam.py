"""What moto needs to enforce each function's IAM role the way AWS does (sandbox and tests only).

moto authorizes a request once ``settings.INITIAL_NO_AUTH_ACTION_COUNT`` requests have passed, but
it knows the resource a request touches only for a few services (SQS, IAM, STS, S3); for the others
it checks the policies against ``"*"``, which a statement naming a table or a secret never matches.
So this module gives the response classes of the services cardops uses a ``_determine_resource``
(the ARN AWS authorizes), maps API names to IAM action names where they differ (``Invoke`` →
``lambda:InvokeFunction``), records every authorization decision (the access log of the IAM
report), and treats any credentials that are not a function role's as the sandbox operator (the
"human" identity with an admin policy), so the CLI, provisioning and test assertions keep working.

Every attribute replaced here is listed in ``PATCHED`` and checked by a canary test.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from moto import settings as moto_settings
from moto.awslambda.responses import LambdaResponse
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.events.responses import EventsHandler
from moto.iam import access_control
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.stepfunctions.responses import StepFunctionResponse

#: the sandbox's human identity: any credentials moto's IAM does not know
OPERATOR_NAME = "cardops-operator"
OPERATOR_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
#: API operation name → IAM action name, where moto's request action differs from IAM's
#: (an SQS batch call is authorized as its single-message action: IAM has no batch actions for SQS)
ACTION_ALIASES = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
#: signing names of the REST-JSON services cardops calls (the JSON-1.x ones send ``X-Amz-Target``)
REST_JSON_SERVICES = frozenset({"lambda"})
#: the operations of a DynamoDB transaction → the IAM action AWS checks for each
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass(frozen=True)
class Decision:
    principal: str
    action: str
    resource: str
    allowed: bool


_LOCK = threading.Lock()
_LOG: list[Decision] = []
_ORIGINALS: dict[tuple[Any, str], Any] = {}


def _arn(handler: Any, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{handler.region}:{handler.current_account}:{resource}"


def _dynamodb_resource(self: DynamoHandler) -> str:
    body: dict[str, Any] = getattr(self, "body", None) or {}
    if not isinstance(body, dict):
        return "*"
    tables: list[str] = []
    if body.get("TableName"):
        tables.append(body["TableName"])
    for item in body.get("TransactItems") or []:
        tables.extend(op["TableName"] for op in item.values() if isinstance(op, dict) and "TableName" in op)
    tables.extend(body.get("RequestItems") or {})
    if not tables:
        return "*"
    # one resource per request is all moto checks: cardops has one table, so they are all the same
    table = tables[0]
    if table.startswith("arn:"):
        return table
    arn = _arn(self, "dynamodb", f"table/{table}")
    return f"{arn}/index/{body['IndexName']}" if body.get("IndexName") else arn


def _dynamodbstreams_resource(self: DynamoDBStreamsHandler) -> str:
    """The stream ARN; a shard iterator starts with the ARN of the stream it reads."""
    arn = self._get_param("StreamArn") or str(self._get_param("ShardIterator") or "").split("|", 1)[0]
    return str(arn) if arn else "*"


def _secretsmanager_resource(self: SecretsManagerResponse) -> str:
    secret_id = self._get_param("SecretId")
    if not secret_id:
        return "*"
    secret = self.backend.secrets.get(secret_id)
    return str(secret.arn) if secret is not None else _arn(self, "secretsmanager", f"secret:{secret_id}")


def _state_machine_of_token(self: StepFunctionResponse, token: str) -> str | None:
    backend = self.stepfunction_backend
    for machine in backend.state_machines:
        for execution in machine.executions:
            worker = getattr(execution, "exec_worker", None)
            pool = getattr(
                getattr(getattr(worker, "env", None), "callback_pool_manager", None), "_pool", None
            )
            if pool is not None and token in pool:
                return str(machine.arn)
    return None


def _stepfunctions_resource(self: StepFunctionResponse) -> str:
    for key in ("executionArn", "stateMachineArn"):
        value = self._get_param(key)
        if value:
            return str(value)
    token = self._get_param("taskToken")
    if token:
        # AWS authorizes task responses on the state machine that issued the token
        return _state_machine_of_token(self, token) or "*"
    return "*"


def _events_resource(self: EventsHandler) -> str:
    entries = self._get_param("Entries") or []
    bus = (
        (entries[0].get("EventBusName") if entries else None) or self._get_param("EventBusName") or "default"
    )
    return str(bus) if str(bus).startswith("arn:") else _arn(self, "events", f"event-bus/{bus}")


def _lambda_resource(self: LambdaResponse) -> str:
    if "/functions/" not in self.path:
        return "*"
    name = unquote(self.path.split("/functions/", 1)[1].split("/", 1)[0])
    return name if name.startswith("arn:") else _arn(self, "lambda", f"function:{name}")


class OperatorAccessKey:
    """Credentials that belong to no function role: the sandbox operator, allowed everything."""

    def __init__(self, account_id: str, partition: str) -> None:
        self.arn = f"arn:{partition}:iam::{account_id}:user/{OPERATOR_NAME}"

    def collect_policies(self) -> list[str]:
        return [OPERATOR_POLICY]

    def create_credentials(self) -> Any:
        raise AssertionError("the sandbox operator's signature is not checked")


def _create_access_key(account_id: str, partition: str, access_key_id: str, headers: dict[str, str]) -> Any:
    try:
        return _ORIGINALS[(access_control, "create_access_key")](
            account_id, partition, access_key_id, headers
        )
    except access_control.CreateAccessKeyFailure:
        if "X-Amz-Security-Token" in headers:
            raise  # a role session moto does not know: never the operator
        return OperatorAccessKey(account_id, partition)


def _check_signature(self: access_control.IAMRequestBase) -> None:
    if isinstance(self._access_key, OperatorAccessKey):
        return
    _ORIGINALS[(access_control.IAMRequestBase, "check_signature")](self)


def _transact_checks(body: bytes, resource: str) -> list[tuple[str, str]]:
    """IAM has no TransactWriteItems/TransactGetItems action: AWS checks each operation inside."""
    table_prefix = resource.split("table/", 1)[0] + "table/"
    checks = []
    for item in json.loads(body or b"{}").get("TransactItems", []):
        for operation, spec in item.items():
            checks.append((f"dynamodb:{TRANSACT_ACTIONS[operation]}", table_prefix + spec["TableName"]))
    return checks


def _check_action_permitted(self: access_control.IAMRequestBase, resource: str) -> None:
    action = ACTION_ALIASES.get(self._action, self._action)
    if action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems") and "table/" in resource:
        checks = _transact_checks(self._body, resource)
    else:
        checks = [(action, resource)]
    principal = str(self._access_key.arn)
    for checked_action, checked_resource in checks:
        self._action = checked_action
        try:
            _ORIGINALS[(access_control.IAMRequestBase, "check_action_permitted")](self, checked_resource)
        except Exception as exc:
            _record(Decision(principal, checked_action, checked_resource, allowed=False))
            json_protocol = "X-Amz-Target" in self._headers or self._service in REST_JSON_SERVICES
            if isinstance(exc, AccessDeniedError) and json_protocol:
                # a JSON-protocol service answers AccessDeniedException in JSON, as AWS does
                raise JsonRESTError("AccessDeniedException", exc.message) from exc
            raise
        _record(Decision(principal, checked_action, checked_resource, allowed=True))


def _record(decision: Decision) -> None:
    if ":assumed-role/" in decision.principal:
        with _LOCK:
            _LOG.append(decision)


#: (owner, attribute) → replacement; the canary test checks each owner still has the attribute
PATCHED: dict[tuple[Any, str], Any] = {
    (DynamoHandler, "_determine_resource"): _dynamodb_resource,
    (DynamoDBStreamsHandler, "_determine_resource"): _dynamodbstreams_resource,
    (SecretsManagerResponse, "_determine_resource"): _secretsmanager_resource,
    (StepFunctionResponse, "_determine_resource"): _stepfunctions_resource,
    (EventsHandler, "_determine_resource"): _events_resource,
    (LambdaResponse, "_determine_resource"): _lambda_resource,
    (access_control, "create_access_key"): _create_access_key,
    (access_control.IAMRequestBase, "check_signature"): _check_signature,
    (access_control.IAMRequestBase, "check_action_permitted"): _check_action_permitted,
}


def install() -> None:
    """Idempotent: moto in this process determines resources and logs decisions as above."""
    with _LOCK:
        for (owner, name), replacement in PATCHED.items():
            if (owner, name) not in _ORIGINALS:
                _ORIGINALS[(owner, name)] = getattr(owner, name, None)
                setattr(owner, name, replacement)


def uninstall() -> None:
    with _LOCK:
        for (owner, name), original in _ORIGINALS.items():
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _ORIGINALS.clear()


class Enforcement:
    """moto authorizes every request from now on (restored by ``stop``)."""

    def __init__(self) -> None:
        self._previous = (moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count)

    def start(self) -> Enforcement:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0
        return self

    def stop(self) -> None:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = self._previous


def access_log() -> list[Decision]:
    with _LOCK:
        return list(_LOG)


def clear_access_log() -> None:
    with _LOCK:
        _LOG.clear()


def truncate_access_log(length: int) -> None:
    """Forget the decisions after the first ``length`` (a test's deliberate denials)."""
    with _LOCK:
        del _LOG[length:]


def write_access_log(path: Path, chunks: list[dict[str, Any]]) -> None:
    """Save decisions with the outputs they were made against (``tests/iam_report.py`` reads them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(chunks, default=lambda d: d.__dict__, indent=1), encoding="utf-8")
