"""The feeds slice's infrastructure (SPEC §7): the feed bucket, the feed-sync Lambda, its weekday
schedule (EventBridge Scheduler, 06:00 Asia/Tokyo by default; ``-c feed_sync_time=HH:MM``) and alarms.

The bucket is private, encrypted, SSL-only and versioned, and logs server access to the kernel's
log bucket.
The feed-sync function may list and read only ``feeds/``, write only its own table items' actions,
and invoke only itself (to continue a run that nears the time limit).
"""

from __future__ import annotations

import re

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.building_blocks import private_bucket, weekday_schedule
from infra.constructs.kernel import Kernel
from infra.constructs.monitoring import FIVE_MINUTES, alarm, service_metric

DEFAULT_SYNC_TIME = "06:00"
FEED_PREFIX = "feeds/"
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def sync_time(value: str | None) -> tuple[str, str]:
    """``HH:MM`` (Asia/Tokyo) as cron (hour, minute); anything else is a synth error, not a guess."""
    match = _TIME.match(value or DEFAULT_SYNC_TIME)
    if match is None:
        raise ValueError(f"feed_sync_time must be HH:MM, got {value!r}")
    return str(int(match.group(1))), str(int(match.group(2)))


class Feeds(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, kernel: Kernel) -> None:
        super().__init__(scope, construct_id)
        self.feed_bucket = private_bucket(self, "FeedBucket", kernel=kernel, log_prefix="feed-bucket/")

        function = kernel.function(self, "feed_sync")
        self.function = function
        self.functions = {"feed_sync": function}
        function.add_environment("FEED_BUCKET_NAME", self.feed_bucket.bucket_name)
        # lines are stored in batches (BatchGetItem finds the stored ones, BatchWriteItem the rest);
        # only this function writes in batches
        kernel.table.grant(
            function,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:DeleteItem",
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
        )
        self._grant_feed_read(function)
        iam.Policy(
            self,
            "ContinueRun",
            roles=[function.role] if function.role else [],
            statements=[
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
            ],
        )

        hour, minute = sync_time(self.node.try_get_context("feed_sync_time"))
        self.schedule = weekday_schedule(
            self,
            "WeekdaySync",
            function=function,
            description="cardops feed sync: weekdays (holidays are recorded skips) in Asia/Tokyo",
            hour=hour,
            minute=minute,
            time_field="scheduled_time",
            what="the feed-sync function",
        )
        stack = Stack.of(self)
        CfnOutput(stack, "FeedBucketName", value=self.feed_bucket.bucket_name, key="FeedBucketName")
        self.alarms = [
            alarm(
                self,
                "FeedSyncFailed",
                "The scheduled card statement sync failed; the next run picks up everything since the "
                "watermark.",
                function.metric_errors(period=Duration.hours(1), statistic="Sum"),
                threshold=1,
            ),
            alarm(
                self,
                "FeedSyncTenantSkippedOrFailed",
                "A tenant's card lines were not linked in a sync "
                "(corporate number missing/invalid, or its run failed).",
                cloudwatch.MathExpression(
                    expression="FILL(skipped, 0) + FILL(failed, 0)",
                    using_metrics={
                        "skipped": service_metric("FeedSyncTenantSkipped", "feed-sync"),
                        "failed": service_metric("FeedSyncTenantFailed", "feed-sync"),
                    },
                    period=FIVE_MINUTES,
                ),
                threshold=1,
            ),
        ]

    def grant_routes(self, admin: lambda_.Function) -> None:
        """The admin API's feed routes read statement files (never write them)."""
        admin.add_environment("FEED_BUCKET_NAME", self.feed_bucket.bucket_name)
        self._grant_feed_read(admin)

    def widgets(self) -> list[list[cloudwatch.IWidget]]:
        return [
            [
                cloudwatch.GraphWidget(
                    title="Card statement feeds",
                    left=[
                        service_metric(n, "feed-sync")
                        for n in ("FeedLinesRead", "FeedLinesUnmatched", "FeedRowsMalformed")
                    ],
                    right=[
                        service_metric("FeedSyncTenantSkipped", "feed-sync"),
                        service_metric("FeedSyncTenantFailed", "feed-sync"),
                    ],
                    width=12,
                ),
            ]
        ]

    def _grant_feed_read(self, grantee: iam.IGrantable) -> None:
        """List and read ``feeds/`` only; no write, no other prefix."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.feed_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{FEED_PREFIX}*"]}},
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.feed_bucket.arn_for_objects(f"{FEED_PREFIX}*")]
            )
        )
