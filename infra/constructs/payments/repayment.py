"""The re-payment workflow (SPEC §4): its step functions' grants, the state machine, its alarm.

The definition is ``functions/cardops/payments/state_machines/repayment.asl.json`` — the same file
the sandbox and the tests execute — with the step functions' ARNs substituted
(``resources.STATE_MACHINES``). The evidence bucket belongs to the payments construct; the admin API
may write consent documents under ``evidence/`` and the validation step may read them.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.kernel import TABLE_READ, TABLE_WRITE, Kernel
from infra.constructs.workflows import standard_workflow
from infra.logical_ids import logical_id

NAME = "Repayment"
EVIDENCE_PREFIX = "evidence/*"
_IAM5 = "AwsSolutions::AwsSolutions-IAM5"


class RepaymentWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kernel: Kernel,
        steps: dict[str, lambda_.Function],
        evidence_bucket: s3.Bucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.evidence_bucket = evidence_bucket
        bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        for function in steps.values():
            function.add_environment("EVIDENCE_BUCKET_NAME", evidence_bucket.bucket_name)
            function.add_environment("EVENT_BUS_NAME", bus.event_bus_name)
            bus.grant_put_events_to(function)
        for key, function in steps.items():
            if key == "repayment_charge":
                kernel.table.grant(function, *TABLE_READ, *TABLE_WRITE)
                kernel.grant_api_keys(function)
            else:
                kernel.table.grant(function, "dynamodb:GetItem", *TABLE_WRITE)
        kernel.grant_api_keys(steps["repayment_eligibility"])
        validate = steps["repayment_validate"]
        validate.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[evidence_bucket.arn_for_objects(EVIDENCE_PREFIX)]
            )
        )

        self.workflow = standard_workflow(
            self,
            NAME,
            functions=steps,
            failed_alarm=(
                "RepaymentFailedExecutions",
                "Re-payment executions failed (a step could not record its outcome).",
            ),
        )
        self.state_machine = self.workflow.state_machine
        validate_role = validate.role
        assert validate_role is not None
        cdk.Validations.of(validate_role).acknowledge(self._evidence_acknowledgment())

        self.alarms: list[cloudwatch.Alarm] = [self.workflow.failed_alarm]

    def _evidence_acknowledgment(self) -> cdk.Acknowledgment:
        return cdk.Acknowledgment(
            id=f"{_IAM5}[Resource::<{logical_id(self.evidence_bucket)}.Arn>/evidence/*]",
            reason="Consent documents are one object per request under evidence/{store}/{request}/: "
            "the admin API may only put, the validation step may only get, objects under that prefix.",
        )

    def grant_decision(self, function: lambda_.Function) -> None:
        """The console's support desk: send the decision (task token), read the executions to show
        their steps and the consent documents to preview them; it starts nothing, writes no document."""
        function.add_environment("REPAYMENT_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self.state_machine.grant_task_response(function)
        self._grant_read_executions(function, "The console's support desk")
        function.add_environment("EVIDENCE_BUCKET_NAME", self.evidence_bucket.bucket_name)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.evidence_bucket.arn_for_objects(EVIDENCE_PREFIX)]
            )
        )
        role = function.role
        assert role is not None
        cdk.Validations.of(role).acknowledge(self._evidence_acknowledgment())

    def grant_admin(self, admin: lambda_.Function) -> None:
        """The admin API starts re-payments, sends the support desk's decision (task token), and
        reads the executions to show their steps."""
        admin.add_environment("REPAYMENT_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self.state_machine.grant_start_execution(admin)
        self.state_machine.grant_task_response(admin)
        self._grant_read_executions(admin, "The admin API")

    def _grant_read_executions(self, function: lambda_.Function, who: str) -> None:
        self.state_machine.grant_execution(function, "states:DescribeExecution", "states:GetExecutionHistory")
        self.workflow.acknowledge_executions(
            function,
            f"{who} reads the re-payment executions (DescribeExecution, GetExecutionHistory) to "
            "show their steps: executions of this state machine only.",
        )

    def acknowledge_evidence(self, function: lambda_.Function) -> None:
        """``function`` writes consent documents under ``evidence/`` (the finding is that prefix)."""
        role = function.role
        assert role is not None
        cdk.Validations.of(role).acknowledge(self._evidence_acknowledgment())
