"""Support cases (issue 16): the case workflow (business-day SLA timers), its task function and alarms,
the reports bucket and the monthly-report schedule.

The definition is ``functions/cardops/support/state_machines/support_case.asl.json`` — the file the
sandbox and the tests run — with the task function's ARN substituted (``resources.STATE_MACHINES``).
The admin API opens and acts on cases (its routes) and the hooks of other slices open cases from
the capture-deadline task, the processor and the admin API, so those may start case executions.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cardops import resources
from infra.constructs.core import TABLE_READ, TABLE_WRITE, Core

NAME = "SupportCase"
REPORT_PREFIX = "reports/complaints/"
#: functions whose hooks open cases automatically (one call each; README, Support cases)
HOOK_CALLERS = ("capture_deadline", "processor", "admin")


class Support(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, core: Core, access_logs: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        spec = resources.STATE_MACHINES[NAME]
        self.reports_bucket = s3.Bucket(
            self,
            "ReportsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="reports-bucket/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
            removal_policy=core.removal,
            auto_delete_objects=core.removal == RemovalPolicy.DESTROY,
        )

        # the case workflow's steps: read the case, record a reminder or an escalation
        task = core.function("support_case")
        core.table.grant(task, *TABLE_READ, *TABLE_WRITE)

        # the schedule's function: reads the month's cases, writes the report
        report = core.function("support_report")
        core.table.grant(report, "dynamodb:GetItem", "dynamodb:Query")
        report.add_environment("SUPPORT_REPORTS_BUCKET_NAME", self.reports_bucket.bucket_name)
        self._grant_report_write(report)

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
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        task.grant_invoke(self.state_machine)

        for key in HOOK_CALLERS:
            self._grant_start(core.functions[key])
        admin = core.functions["admin"]
        # resolving a case stops its timers; the admin API may write a month's report on demand
        self.state_machine.grant_execution(admin, "states:DescribeExecution", "states:StopExecution")
        admin.add_environment("SUPPORT_REPORTS_BUCKET_NAME", self.reports_bucket.bucket_name)
        self._grant_report_write(admin)

        self.schedule = scheduler.Schedule(
            self,
            "MonthlyReport",
            description="cardops complaints report: runs on weekdays, writes last month's report on the "
            "first business day of the month (Asia/Tokyo)",
            schedule=scheduler.ScheduleExpression.cron(
                minute="0", hour="9", week_day="MON-FRI", time_zone=TimeZone.ASIA_TOKYO
            ),
            target=targets.LambdaInvoke(
                report,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"time": scheduler.ContextAttribute.scheduled_time}
                ),
                retry_attempts=3,
                max_event_age=Duration.hours(6),
            ),
        )

        self.sla_missed = cloudwatch.Alarm(
            self,
            "SlaMissedAlarm",
            alarm_description="A support case missed a business-day SLA (acknowledge, resolve, or report a "
            "public-body complaint); the case was escalated.",
            metric=cloudwatch.Metric(
                namespace="cardops",
                metric_name="SupportSlaMissed",
                dimensions_map={"service": "support"},
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
            alarm_description="Support case executions failed: a case's SLA timers stopped.",
            metric=self.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        stack = Stack.of(self)
        self._acknowledge(stack, task, report)
        CfnOutput(
            stack,
            f"{NAME}StateMachineArn",
            value=self.state_machine.state_machine_arn,
            key=f"{NAME}StateMachineArn",
        )
        CfnOutput(
            stack,
            "SupportReportsBucketName",
            value=self.reports_bucket.bucket_name,
            key="SupportReportsBucketName",
        )

    def _grant_start(self, function: lambda_.Function) -> None:
        function.add_environment("SUPPORT_CASE_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self.state_machine.grant_start_execution(function)

    def _grant_report_write(self, function: lambda_.Function) -> None:
        """Put objects under ``reports/complaints/`` only."""
        function.add_to_role_policy(
            cdk.aws_iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.reports_bucket.arn_for_objects(f"{REPORT_PREFIX}*")]
            )
        )

    def _acknowledge(self, stack: Stack, task: lambda_.Function, report: lambda_.Function) -> None:
        def logical(construct: Construct) -> str:
            return stack.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]

        bucket = logical(self.reports_bucket)
        machine = logical(self.state_machine)
        acknowledgments = {
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical(task)}.Arn>:*]": "lambda:InvokeFunction on "
            "the support task function's versions and aliases (ARN:*), as the CDK grant writes it.",
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical(report)}.Arn>:*]": "EventBridge Scheduler "
            "may invoke the report function and its versions/aliases, the form CDK's LambdaInvoke writes.",
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket}.Arn>/reports/complaints/*]": "Reports are "
            "written as reports/complaints/{YYYY-MM}.json|csv: object writes on that prefix only.",
            "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
            '<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":'
            f'"{machine}"}}]}}]}}:*]': "Describe/stop executions of the support case state machine "
            "(one execution per case, so the ARN ends in a wildcard); no other state machine.",
        }
        for finding, reason in acknowledgments.items():
            cdk.Validations.of(stack).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
