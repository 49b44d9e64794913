"""Card statement feeds (SPEC §7): the feed and evidence buckets, the feed-sync Lambda and its
weekday schedule (EventBridge Scheduler, 06:00 Asia/Tokyo by default; ``-c feed_sync_time=HH:MM``).

Both buckets are private, encrypted, SSL-only and versioned, and log server access to a log bucket.
The feed-sync function may list and read only ``feeds/``, write only its own table items' actions,
and invoke only itself (to continue a run that nears the time limit).
"""

from __future__ import annotations

import re

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.constructs.core import Core

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
    def __init__(self, scope: Construct, construct_id: str, *, core: Core, stage: str) -> None:
        super().__init__(scope, construct_id)
        # Server access logs are delivered by a bucket policy (the logging service principal), not
        # the legacy LogDeliveryWrite ACL; scoped to this construct's buckets.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        retain = stage == "prod"
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(400))],
            removal_policy=removal,
            auto_delete_objects=not retain,
        )
        # dev buckets empty themselves on `cdk destroy` (a versioned bucket with objects cannot be
        # deleted otherwise); prod buckets are retained with everything in them
        self.feed_bucket = self._bucket("FeedBucket", "feed-bucket/", removal)
        self.evidence_bucket = self._bucket("EvidenceBucket", "evidence-bucket/", removal)

        function = core.function("feed_sync")
        self.function = function
        function.add_environment("FEED_BUCKET_NAME", self.feed_bucket.bucket_name)
        # lines are stored in batches (BatchGetItem finds the stored ones, BatchWriteItem the rest);
        # only this function writes in batches
        core.table.grant(
            function,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:DeleteItem",
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
        )
        self._grant_feed_read(function)
        # A separate policy (not the role's default one) so the function can name its own ARN.
        iam.Policy(
            self,
            "ContinueRun",
            roles=[function.role] if function.role else [],
            statements=[
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
            ],
        )

        admin = core.functions["admin"]
        admin.add_environment("FEED_BUCKET_NAME", self.feed_bucket.bucket_name)
        admin.add_environment("EVIDENCE_BUCKET_NAME", self.evidence_bucket.bucket_name)
        self._grant_feed_read(admin)

        hour, minute = sync_time(self.node.try_get_context("feed_sync_time"))
        self.schedule = scheduler.Schedule(
            self,
            "WeekdaySync",
            description="cardops feed sync: weekdays (holidays are recorded skips) in Asia/Tokyo",
            schedule=scheduler.ScheduleExpression.cron(
                minute=minute, hour=hour, week_day="MON-FRI", time_zone=TimeZone.ASIA_TOKYO
            ),
            target=targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"scheduled_time": scheduler.ContextAttribute.scheduled_time}
                ),
                retry_attempts=3,
                max_event_age=Duration.hours(6),
            ),
        )
        stack = Stack.of(self)
        CfnOutput(stack, "FeedBucketName", value=self.feed_bucket.bucket_name, key="FeedBucketName")
        CfnOutput(
            stack, "EvidenceBucketName", value=self.evidence_bucket.bucket_name, key="EvidenceBucketName"
        )

    def _bucket(self, construct_id: str, log_prefix: str, removal: RemovalPolicy) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
            removal_policy=removal,
            auto_delete_objects=removal == RemovalPolicy.DESTROY,
        )

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
