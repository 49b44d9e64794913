"""Starting and stopping Step Functions executions by name: a second start of the same name is a
no-op. Generic (a state machine ARN, a name, a payload), so every slice's workflow starts here:
the capture deadline (payments) and the support case timers (support)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cardops.kernel import aws
from cardops.kernel.dynamodb import StoreUnavailable, dumps


def start_once(state_machine_arn: str, name: str, payload: dict[str, Any]) -> bool:
    """Start ``name`` unless it exists; ``True`` when this call started it.

    A Standard workflow answers a repeated start with the same name and input with the running
    execution, and ``ExecutionAlreadyExists`` once it has ended: both mean "already started".
    """
    try:
        aws.stepfunctions().start_execution(
            stateMachineArn=state_machine_arn, name=name, input=dumps(payload)
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") == "ExecutionAlreadyExists":
            return False
        raise StoreUnavailable(f"step functions: {exc.response.get('Error', {}).get('Code', '')}") from exc
    except BotoCoreError as exc:
        raise StoreUnavailable(f"step functions unavailable: {exc.__class__.__name__}") from exc


def stop_if_running(state_machine_arn: str, name: str, cause: str) -> None:
    """Stop the execution ``name`` if it still runs, in one call.

    ``StopExecution`` alone: Step Functions answers it for an execution that has already ended with
    success and leaves its status as it was (SUCCEEDED, FAILED, TIMED_OUT or ABORTED stay), and one
    never started with ``ExecutionDoesNotExist``; both mean "nothing runs". So no
    ``DescribeExecution`` first: it cost a call and still raced the execution's own end.
    Best effort: an execution that cannot be stopped here still ends at its next check.
    """
    execution_arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
    try:
        aws.stepfunctions().stop_execution(executionArn=execution_arn, cause=cause[:256])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") in ("ExecutionDoesNotExist", "InvalidArn"):
            return
        raise StoreUnavailable(f"step functions: {exc.response.get('Error', {}).get('Code', '')}") from exc
    except BotoCoreError as exc:
        raise StoreUnavailable(f"step functions unavailable: {exc.__class__.__name__}") from exc
