"""The daily ledger reconciliation (issue 11 item 2): the ledger always equals the payments."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.core import TABLE_READ, TABLE_WRITE, Core


class Reconciliation(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, core: Core, operator_queue: sqs.IQueue
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = core.function("reconcile")
        # reads captured payments by store (gsi1), their refunds and ledger entries by key; posts
        # missing entries and provider-side refunds (transactions of puts and updates); no deletes
        core.table.grant(self.function, *TABLE_READ, *TABLE_WRITE)
        # the stuck-refund sweep hands refunds to the providers again, with their idempotency keys
        core.grant_api_keys(self.function)
        # a provider-side refund or a rejected resubmission alerts finance on the operator queue
        self.function.add_environment("OPERATOR_QUEUE_URL", operator_queue.queue_url)
        operator_queue.grant_send_messages(self.function)
        self.rule = events.Rule(
            self,
            "Daily",
            description="cardops ledger reconciliation: repair or alarm on ledger/payment differences",
            # 03:00 Asia/Tokyo, after the day's webhooks and before finance starts
            schedule=events.Schedule.cron(minute="0", hour="18"),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        self.unresolved = cloudwatch.Alarm(
            self,
            "LedgerDifferencesUnresolved",
            alarm_description=(
                "[LedgerDifferencesUnresolved] The reconciliation found a ledger difference it cannot "
                "repair (an entry posted with other facts, or a provider refund beyond the ceiling): "
                "run `cardops ledger reconcile --store S` and correct with an adjustment."
            ),
            metric=cloudwatch.Metric(
                namespace="cardops",
                metric_name="LedgerDifferencesUnresolved",
                dimensions_map={"service": "reconcile"},
                statistic="Sum",
                period=Duration.days(1),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failed = cloudwatch.Alarm(
            self,
            "ReconciliationFailed",
            alarm_description="[ReconciliationFailed] The daily ledger reconciliation raised; see its logs.",
            metric=self.function.metric_errors(period=Duration.days(1), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
