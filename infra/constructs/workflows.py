"""The capture-deadline workflow (SPEC §3): its task function, state machine, operator queue and alarms.

The definition is ``functions/cardops/payments/state_machines/capture_deadline.asl.json`` — the same file the
sandbox and the tests run — with the function ARN substituted (``resources.STATE_MACHINES``).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cardops import resources
from infra.constructs.core import TABLE_DELETE, TABLE_READ, TABLE_WRITE, Core

NAME = "CaptureDeadline"


class CaptureDeadlineWorkflow(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, core: Core) -> None:
        super().__init__(scope, construct_id)
        spec = resources.STATE_MACHINES[NAME]
        self.operator_queue = sqs.Queue(
            self,
            "OperatorQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=core.removal,  # operator cases outlive a prod stack
        )
        cdk.Validations.of(self.operator_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="The operator queue is the end of the line: people read it (alarmed on depth); a "
                "DLQ behind it would only hide cases from them.",
            )
        )
        bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")

        task = core.function("capture_deadline")
        task.add_environment("OPERATOR_QUEUE_URL", self.operator_queue.queue_url)
        task.add_environment("EVENT_BUS_NAME", bus.event_bus_name)
        # the capture use case: payments, listeners' items, outcome claims (taken and released)
        core.table.grant(task, *TABLE_READ, *TABLE_WRITE, *TABLE_DELETE)
        core.grant_api_keys(task)
        self.operator_queue.grant_send_messages(task)
        bus.grant_put_events_to(task)

        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY
        )
        substitutions = {
            placeholder: core.functions[key].function_arn
            for placeholder, key in spec.function_substitutions.items()
        }
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_file(str(spec.definition_path)),
            definition_substitutions=substitutions,
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        for key in spec.function_substitutions.values():
            core.functions[key].grant_invoke(self.state_machine)
        cdk.Validations.of(self.state_machine).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::<CoreCaptureDeadlineFunction898DC013.Arn>:*]",
                reason="lambda:InvokeFunction on the task function's versions and aliases (ARN:*), as the "
                "CDK grant writes it; no other function.",
            )
        )

        # the processor starts one execution per authorization (the janitor restarts a lost start);
        # a capture or cancel, by webhook or through the admin API, stops the waiting execution
        for starter in ("processor", "admin", "janitor"):
            function = core.functions[starter]
            function.add_environment(
                "CAPTURE_DEADLINE_STATE_MACHINE_ARN", self.state_machine.state_machine_arn
            )
            self.state_machine.grant_start_execution(function)
            self.state_machine.grant_execution(function, "states:DescribeExecution", "states:StopExecution")
            # the payment listeners they run may reverse a refund, which alerts finance on this queue
            function.add_environment("OPERATOR_QUEUE_URL", self.operator_queue.queue_url)
            self.operator_queue.grant_send_messages(function)
        cdk.Validations.of(core).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
                '<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":'
                '"CaptureDeadlineStateMachine78D37EED"}]}]}:*]',
                reason="Describe/stop executions of this one state machine (execution names are per "
                "payment, so the ARN ends in a wildcard); no other state machine.",
            )
        )
        core.functions["admin"].add_environment("EVENT_BUS_NAME", bus.event_bus_name)
        bus.grant_put_events_to(core.functions["admin"])

        self.auto_refund_failed = cloudwatch.Alarm(
            self,
            "AutoRefundFailedAlarm",
            alarm_description=(
                "An automatic refund at the capture deadline failed; the case is in the operator queue"
            ),
            metric=cloudwatch.Metric(
                namespace="cardops",
                metric_name="AutoRefundFailed",
                dimensions_map={"service": "capture-deadline"},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failed_executions = cloudwatch.Alarm(
            self,
            "FailedExecutionsAlarm",
            alarm_description="Capture-deadline executions failed.",
            metric=self.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.operator_backlog = cloudwatch.Alarm(
            self,
            "OperatorQueueAlarm",
            alarm_description="Cases wait in the operator queue.",
            metric=self.operator_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5)
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        CfnOutput(
            self,
            f"{NAME}StateMachineArn",
            value=self.state_machine.state_machine_arn,
            key=f"{NAME}StateMachineArn",
        )
        CfnOutput(self, "OperatorQueueUrl", value=self.operator_queue.queue_url, key="OperatorQueueUrl")
