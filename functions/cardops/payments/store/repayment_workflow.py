"""The re-payment workflow in Step Functions: start an execution named by the request id, send the
support desk's decision back through its task token, and read an execution's history."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from cardops.kernel import aws

#: what Step Functions answers to a task token whose step no longer waits
GONE_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class TaskGone(Exception):
    """The decision step no longer waits for this token (it timed out or the token is unknown)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class RepaymentWorkflow:
    def __init__(self, state_machine_arn: str) -> None:
        self.state_machine_arn = state_machine_arn

    def execution_arn(self, name: str) -> str:
        return f"{self.state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"

    def start(self, name: str, payload: Mapping[str, Any]) -> None:
        """Start (or find) the execution ``name``: StartExecution is idempotent by name."""
        try:
            aws.stepfunctions().start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload)
            )
        except ClientError as exc:
            if _code(exc) != "ExecutionAlreadyExists":
                raise

    def send_success(self, token: str, output: Mapping[str, Any]) -> None:
        try:
            aws.stepfunctions().send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if _code(exc) in GONE_CODES:
                raise TaskGone(_code(exc)) from exc
            raise

    def describe(self, execution_arn: str) -> Mapping[str, Any] | None:
        """DescribeExecution's answer; ``None`` for an execution that does not exist."""
        try:
            return dict(aws.stepfunctions().describe_execution(executionArn=execution_arn))
        except ClientError as exc:
            if _code(exc) == "ExecutionDoesNotExist":
                return None
            raise

    def history(self, execution_arn: str) -> list[Mapping[str, Any]]:
        """Every history event, oldest first."""
        sfn = aws.stepfunctions()
        events: list[Mapping[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page.get("events", []))
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]
