"""The re-payment workflow (SPEC §4): its step functions, state machine and admin-API grants.

The definition is ``functions/cardops/payments/state_machines/repayment.asl.json`` — the same file
the sandbox and the tests execute — with the step functions' ARNs substituted
(``resources.STATE_MACHINES``). The
evidence bucket (private, encrypted, versioned, retained) belongs to the feeds construct; here the
admin API may write consent documents under ``evidence/`` and the validation step may read them.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cardops import resources
from infra.constructs.core import TABLE_READ, TABLE_WRITE, Core

NAME = "Repayment"
EVIDENCE_PREFIX = "evidence/*"


class RepaymentWorkflow(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, core: Core, evidence_bucket: s3.Bucket
    ) -> None:
        super().__init__(scope, construct_id)
        spec = resources.STATE_MACHINES[NAME]
        bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        steps = {key: core.function(key) for key in spec.function_substitutions.values()}
        for function in steps.values():
            function.add_environment("EVIDENCE_BUCKET_NAME", evidence_bucket.bucket_name)
            function.add_environment("EVENT_BUS_NAME", bus.event_bus_name)
            bus.grant_put_events_to(function)
        # every step reads its request (and the payment and reservation behind it), saves its
        # status (UpdateItem) and appends an audit entry (PutItem); only the charge step records a
        # new payment through the listeners (ledger, refunds: they query) and calls PAY.JP
        for key, function in steps.items():
            if key == "repayment_charge":
                core.table.grant(function, *TABLE_READ, *TABLE_WRITE)
                core.grant_api_keys(function)
            else:
                core.table.grant(function, "dynamodb:GetItem", *TABLE_WRITE)
        # eligibility looks up the customer's saved card at the provider: an API call with its key
        core.grant_api_keys(steps["repayment_eligibility"])
        validate = steps["repayment_validate"]
        validate.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[evidence_bucket.arn_for_objects(EVIDENCE_PREFIX)]
            )
        )

        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_file(str(spec.definition_path)),
            definition_substitutions={
                placeholder: core.functions[key].function_arn
                for placeholder, key in spec.function_substitutions.items()
            },
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            # execution data stays out of the logs: the steps carry ids and named reasons only anyway
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        for function in steps.values():
            function.grant_invoke(self.state_machine)

        admin = core.functions["admin"]
        admin.add_environment("REPAYMENT_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        admin.add_environment("EVIDENCE_BUCKET_NAME", evidence_bucket.bucket_name)
        self.state_machine.grant_start_execution(admin)
        self.state_machine.grant_task_response(admin)
        # what the admin API shows of an execution: its status and steps (no List*/Describe* on '*')
        self.state_machine.grant_execution(admin, "states:DescribeExecution", "states:GetExecutionHistory")
        admin.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[evidence_bucket.arn_for_objects(EVIDENCE_PREFIX)]
            )
        )

        self.failed_executions = cloudwatch.Alarm(
            self,
            "FailedExecutionsAlarm",
            alarm_description="Re-payment executions failed (a step could not record its outcome).",
            metric=self.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._acknowledge(core, steps, evidence_bucket)
        CfnOutput(
            cdk.Stack.of(self),
            f"{NAME}StateMachineArn",
            value=self.state_machine.state_machine_arn,
            key=f"{NAME}StateMachineArn",
        )

    def _acknowledge(self, core: Core, steps: dict[str, lambda_.Function], bucket: s3.Bucket) -> None:
        """cdk-nag IAM5 findings of the grants above, each narrowed to what it names."""
        stack = cdk.Stack.of(self)

        def logical(construct: Construct) -> str:
            child = construct.node.default_child
            assert isinstance(child, cdk.CfnElement)
            return stack.resolve(child.logical_id)  # type: ignore[no-any-return]

        prefix = "AwsSolutions::AwsSolutions-IAM5"
        for function in steps.values():
            cdk.Validations.of(self.state_machine).acknowledge(
                cdk.Acknowledgment(
                    id=f"{prefix}[Resource::<{logical(function)}.Arn>:*]",
                    reason="lambda:InvokeFunction on this step function's versions and aliases (ARN:*), "
                    "as the CDK grant writes it; no other function.",
                )
            )
        evidence = cdk.Acknowledgment(
            id=f"{prefix}[Resource::<{logical(bucket)}.Arn>/evidence/*]",
            reason="Consent documents are one object per request under evidence/{store}/{request}/: "
            "the admin API may only put, the validation step may only get, objects under that prefix.",
        )
        admin_role = core.functions["admin"].role
        validate_role = steps["repayment_validate"].role
        assert admin_role is not None and validate_role is not None
        cdk.Validations.of(validate_role).acknowledge(evidence)
        executions = (
            f"{prefix}[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + logical(self.state_machine) + '"}]}]}:*]'
        )
        cdk.Validations.of(admin_role).acknowledge(
            evidence,
            cdk.Acknowledgment(
                id=executions,
                reason="The admin API reads the re-payment executions (DescribeExecution, "
                "GetExecutionHistory) to show their steps: executions of this state machine only.",
            ),
        )
