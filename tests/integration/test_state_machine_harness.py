"""The harness later workflows use: moto's Step Functions interpreter running our real handlers in-process."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from cardops.sandbox import lambda_runner


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A tiny Lambda: doubles an amount, refuses a negative one."""
    if event["amount"] < 0:
        raise ValueError("negative amount")
    return {"amount": event["amount"] * 2, "function": context.function_name}


DEFINITION = {
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${Fn}", "Payload.$": "$"},
            "ResultSelector": {"amount.$": "$.Payload.amount", "function.$": "$.Payload.function"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Refused", "ResultPath": "$.error"}],
            "Next": "Done",
        },
        "Refused": {"Type": "Pass", "Result": {"refused": True}, "End": True},
        "Done": {"Type": "Succeed"},
    },
}


def wait_for(sfn: Any, arn: str) -> dict[str, Any]:
    for _ in range(200):
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


@pytest.fixture
def machine(aws: None) -> tuple[Any, str]:
    lam = boto3.client("lambda", region_name="ap-northeast-1")
    iam = boto3.client("iam", region_name="ap-northeast-1")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fn = lam.create_function(
        FunctionName="doubler",
        Runtime="python3.12",
        Role=role,
        Handler="x.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )["FunctionArn"]
    lambda_runner.install({"doubler": f"{__name__}.echo_handler"})
    sfn = boto3.client("stepfunctions", region_name="ap-northeast-1")
    definition = json.dumps(DEFINITION).replace("${Fn}", fn)
    arn = sfn.create_state_machine(name="harness", definition=definition, roleArn=role)["stateMachineArn"]
    return sfn, arn


def test_real_handler_runs_inside_the_interpreter(machine: tuple[Any, str]) -> None:
    sfn, arn = machine
    execution = sfn.start_execution(stateMachineArn=arn, name="ok", input=json.dumps({"amount": 21}))
    done = wait_for(sfn, execution["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"amount": 42, "function": "doubler"}


def test_handler_errors_surface_as_task_failures(machine: tuple[Any, str]) -> None:
    sfn, arn = machine
    execution = sfn.start_execution(stateMachineArn=arn, name="bad", input=json.dumps({"amount": -1}))
    done = wait_for(sfn, execution["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"refused": True}
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert failed and "negative amount" in json.dumps(failed[0]["taskFailedEventDetails"])


def test_duplicate_execution_name_is_refused(machine: tuple[Any, str]) -> None:
    sfn, arn = machine
    sfn.start_execution(stateMachineArn=arn, name="once", input=json.dumps({"amount": 1}))
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="once", input=json.dumps({"amount": 2}))
