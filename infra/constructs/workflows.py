"""How every slice sets up a Standard Step Functions workflow: the definition file the sandbox and the
tests run, its log group, its task functions' invoke grants, the failed-executions alarm and the ARN
output. The capture-deadline, re-payment and support-case workflows differ only in their functions
and their words, so they say only those.

The resources are created in the caller's scope under the ids they were first deployed with
(``StateMachine``, ``Logs``): a state machine whose logical id changed would be replaced, and its
running executions (a deadline days away) deleted with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cardops import resources
from infra.constructs.monitoring import FIVE_MINUTES, alarm
from infra.logical_ids import logical_id

_IAM5 = "AwsSolutions::AwsSolutions-IAM5"


@dataclass(frozen=True)
class Workflow:
    state_machine: sfn.StateMachine
    log_group: logs.LogGroup
    #: ``[name] ...`` fires on any failed execution
    failed_alarm: cloudwatch.Alarm

    def acknowledge_executions(self, function: lambda_.Function, reason: str) -> None:
        """``function`` acts on this state machine's executions, whose ARNs end in the execution name."""
        role = function.role
        assert role is not None
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id=f"{_IAM5}[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
                '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + logical_id(self.state_machine) + '"}]}]}:*]',
                reason=reason,
            )
        )


def standard_workflow(
    scope: Construct,
    name: str,
    *,
    functions: dict[str, lambda_.Function],
    failed_alarm: tuple[str, str],
) -> Workflow:
    """The workflow ``resources.STATE_MACHINES[name]`` with its placeholders bound to ``functions``
    (keyed as ``resources.FUNCTIONS``); ``failed_alarm`` is the alarm's name and description."""
    spec = resources.STATE_MACHINES[name]
    arns = {
        placeholder: functions[key].function_arn for placeholder, key in spec.function_substitutions.items()
    }
    log_group = logs.LogGroup(
        scope, "Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY
    )
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        definition_body=sfn.DefinitionBody.from_file(str(spec.definition_path)),
        definition_substitutions=arns,
        state_machine_type=sfn.StateMachineType.STANDARD,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )
    for key in dict.fromkeys(spec.function_substitutions.values()):
        function = functions[key]
        function.grant_invoke(state_machine)
        cdk.Validations.of(state_machine).acknowledge(
            cdk.Acknowledgment(
                id=f"{_IAM5}[Resource::<{logical_id(function)}.Arn>:*]",
                reason=f"lambda:InvokeFunction on the {key} function's versions and aliases (ARN:*), as the "
                "CDK grant writes it; no other function.",
            )
        )
    alarm_name, description = failed_alarm
    failed = alarm(
        scope,
        alarm_name,
        description,
        state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
        threshold=1,
    )
    CfnOutput(
        cdk.Stack.of(scope),
        f"{name}StateMachineArn",
        value=state_machine.state_machine_arn,
        key=f"{name}StateMachineArn",
    )
    return Workflow(state_machine=state_machine, log_group=log_group, failed_alarm=failed)
