"""The durable change feed (issue 11): the table's stream → the ``changes`` function, which runs the
payment listeners (ledger posting, refund sync, capture-deadline workflow start/stop).

The mapping comes from ``resources.CHANGE_FEED`` (the sandbox's stream poller reads the same spec):
filtered to payment items, bounded retries, bisect on error, a maximum record age, partial batch
failures, and an on-failure queue that pages someone as soon as a batch lands in it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cardops import resources
from infra.constructs.core import TABLE_READ, TABLE_WRITE, Core


class ChangeFeed(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, core: Core) -> None:
        super().__init__(scope, construct_id)
        spec = resources.CHANGE_FEED
        self.failure_queue = sqs.Queue(
            self,
            "FailureQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=core.removal,
        )
        cdk.Validations.of(self.failure_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="The change feed's on-failure destination is the end of the line: it holds where "
                "the failed batches are in the stream, read by people (alarmed on depth).",
            )
        )
        self.function = core.function(spec.function)
        # the listeners: ledger entries and balances, refunds and their ceiling, finance alerts
        # (read by key and query; transactions of puts and updates)
        core.table.grant(self.function, *TABLE_READ, *TABLE_WRITE)
        # stream read (DescribeStream, GetShardIterator, GetRecords, ListStreams) is granted by the source
        self.function.add_event_source(
            sources.DynamoEventSource(
                core.table,
                starting_position=lambda_.StartingPosition(spec.starting_position),
                batch_size=spec.batch_size,
                bisect_batch_on_error=spec.bisect_on_error,
                retry_attempts=spec.retry_attempts,
                max_record_age=Duration.seconds(spec.max_record_age_seconds),
                report_batch_item_failures=spec.report_batch_item_failures,
                on_failure=sources.SqsDlq(self.failure_queue),
                filters=[lambda_.FilterCriteria.filter(pattern) for pattern in spec.filter_patterns],
            )
        )
        self.failures_alarm = cloudwatch.Alarm(
            self,
            "ChangeFeedFailuresAlarm",
            alarm_description=(
                "Payment changes whose listeners kept failing (or waited too long) were set aside: the "
                "on-failure queue says where they are in the stream; see the README runbook."
            ),
            metric=self.failure_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5)
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.iterator_age_alarm = cloudwatch.Alarm(
            self,
            "ChangeFeedLagAlarm",
            alarm_description="The change feed is more than 15 minutes behind the table's writes.",
            metric=self.function.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(5)),
            threshold=15 * 60 * 1000,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        cdk.CfnOutput(
            self, "ChangesFailureQueueUrl", value=self.failure_queue.queue_url, key="ChangesFailureQueueUrl"
        )
        cdk.CfnOutput(self, "TableStreamArn", value=core.table.table_stream_arn or "", key="TableStreamArn")
