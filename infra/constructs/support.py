"""The support slice's infrastructure (issue 16): the case workflow (business-day SLA timers), its task
function and alarms, the reports bucket and the monthly-report schedule.

The definition is ``functions/cardops/support/state_machines/support_case.asl.json`` — the file the
sandbox and the tests run — with the task function's ARN substituted (``resources.STATE_MACHINES``).
Other slices' hooks open cases from the functions handed in as ``hook_callers`` (the capture-deadline
task and the processor) and from the admin API (``grant_routes``), so those may start case
executions; nothing else of theirs is touched here.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.building_blocks import private_bucket, weekday_schedule
from infra.constructs.kernel import TABLE_READ, TABLE_WRITE, Kernel
from infra.constructs.monitoring import FIVE_MINUTES, alarm, function_widget, service_metric
from infra.constructs.workflows import standard_workflow
from infra.logical_ids import logical_id

NAME = "SupportCase"
REPORT_PREFIX = "reports/complaints/"


class Support(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, kernel: Kernel, hook_callers: list[lambda_.Function]
    ) -> None:
        super().__init__(scope, construct_id)
        self.kernel = kernel
        self.reports_bucket = private_bucket(
            self, "ReportsBucket", kernel=kernel, log_prefix="reports-bucket/"
        )

        # the case workflow's steps: read the case, record a reminder or an escalation
        task = kernel.function(self, "support_case")
        kernel.table.grant(task, *TABLE_READ, *TABLE_WRITE)
        # the schedule's function: reads the month's cases, writes the report
        report = kernel.function(self, "support_report")
        kernel.table.grant(report, "dynamodb:GetItem", "dynamodb:Query")
        report.add_environment("SUPPORT_REPORTS_BUCKET_NAME", self.reports_bucket.bucket_name)
        self._grant_report_write(report)
        self.functions = {"support_case": task, "support_report": report}

        self.workflow = standard_workflow(
            self,
            NAME,
            functions=self.functions,
            failed_alarm=(
                "SupportCaseFailedExecutions",
                "Support case executions failed: a case's SLA timers stopped.",
            ),
        )
        self.state_machine = self.workflow.state_machine
        for function in hook_callers:
            self._grant_start(function)

        self.schedule = weekday_schedule(
            self,
            "MonthlyReport",
            function=report,
            description="cardops complaints report: runs on weekdays, writes last month's report on the "
            "first business day of the month (Asia/Tokyo)",
            hour="9",
            minute="0",
            time_field="time",
            what="the report function",
        )
        stack = Stack.of(self)

        self.alarms = [
            alarm(
                self,
                "SupportSlaMissed",
                "A support case missed a business-day SLA (acknowledge, resolve, or report a public-body "
                "complaint); the case was escalated.",
                service_metric("SupportSlaMissed", "support"),
                threshold=1,
            ),
            self.workflow.failed_alarm,
            alarm(
                self,
                "SupportReportFailed",
                "The monthly complaints report failed; write it with cardops cases report --month --save.",
                report.metric_errors(period=Duration.hours(1), statistic="Sum"),
                threshold=1,
            ),
        ]
        CfnOutput(
            stack,
            "SupportReportsBucketName",
            value=self.reports_bucket.bucket_name,
            key="SupportReportsBucketName",
        )

    def grant_routes(self, admin: lambda_.Function) -> None:
        """The admin API opens and acts on cases (its hooks too), stops a resolved case's timers, and
        writes a month's report on demand."""
        self.grant_case_actions(admin)
        admin.add_environment("SUPPORT_REPORTS_BUCKET_NAME", self.reports_bucket.bucket_name)
        self._grant_report_write(admin)

    def grant_case_actions(self, function: lambda_.Function) -> None:
        """Open and act on cases: acknowledge and resolve (which stops the case's timers)."""
        self.kernel.table.grant(function, *TABLE_READ, *TABLE_WRITE)
        self._grant_start(function)
        self.state_machine.grant_execution(function, "states:StopExecution")
        self.workflow.acknowledge_executions(
            function,
            "Stop executions of the support case state machine (one execution per case, so the "
            "ARN ends in a wildcard); no other state machine.",
        )

    def widgets(self) -> list[list[cloudwatch.IWidget]]:
        return [
            [
                cloudwatch.GraphWidget(
                    title="Support cases",
                    left=[service_metric(n, "support") for n in ("SupportSlaMissed", "SupportReminderSent")],
                    right=[self.state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum")],
                    width=12,
                ),
                function_widget("support_report", self.functions["support_report"]),
            ]
        ]

    def _grant_start(self, function: lambda_.Function) -> None:
        function.add_environment("SUPPORT_CASE_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self.state_machine.grant_start_execution(function)

    def _grant_report_write(self, function: lambda_.Function) -> None:
        """Put objects under ``reports/complaints/`` only."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.reports_bucket.arn_for_objects(f"{REPORT_PREFIX}*")]
            )
        )
        role = function.role
        assert role is not None
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(self.reports_bucket)}.Arn>/"
                f"{REPORT_PREFIX}*]",
                reason="Reports are written as reports/complaints/{YYYY-MM}.json|csv: object writes on that "
                "prefix only.",
            )
        )
