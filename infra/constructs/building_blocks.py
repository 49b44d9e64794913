"""The pieces several slices build the same way, written once: a private data bucket, a work queue
with its dead-letter queue, an end-of-the-line queue people read, and a weekday schedule that
invokes a function (EventBridge Scheduler, Asia/Tokyo).

Each builds in the caller's scope with the caller's construct ids, so a resource's logical id is
the one it had when the slice wrote it out (``tests/infra/test_stateful_ids.py`` pins them).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, TimeZone
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cardops.resources import QueueSpec
from infra.constructs.kernel import Kernel
from infra.logical_ids import logical_id

#: how long a message waits where nothing consumes it automatically (SQS's maximum)
HELD = Duration.days(14)


def private_bucket(scope: Construct, construct_id: str, *, kernel: Kernel, log_prefix: str) -> s3.Bucket:
    """A bucket of documents people rely on: private, encrypted, SSL-only, versioned (an overwrite or
    a delete stays recoverable for 90 days), access-logged to the kernel's log bucket under
    ``log_prefix``, and retained with a prod stack."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=kernel.access_logs,
        server_access_logs_prefix=log_prefix,
        lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
        removal_policy=kernel.removal,
        auto_delete_objects=kernel.removal == RemovalPolicy.DESTROY,
    )


def work_queue(
    scope: Construct,
    construct_id: str,
    *,
    spec: QueueSpec,
    dead_letter_id: str,
    dead_letter_removal: RemovalPolicy | None = None,
) -> tuple[sqs.Queue, sqs.Queue]:
    """(queue, dead-letter queue): a message that fails ``spec.max_receive_count`` times waits 14
    days in the dead-letter queue. ``dead_letter_removal`` keeps it with a prod stack where what
    waits there must be redriven rather than lost (CDK's default, destroy, otherwise)."""
    dead_letters = _held_queue(scope, dead_letter_id, removal=dead_letter_removal)
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=dead_letters),
    )
    return queue, dead_letters


def end_of_line_queue(scope: Construct, construct_id: str, *, kernel: Kernel, why: str) -> sqs.Queue:
    """A queue people read (alarmed on depth), kept 14 days and retained with a prod stack; it has
    no dead-letter queue of its own, and ``why`` says so to cdk-nag (AwsSolutions-SQS3)."""
    queue = _held_queue(scope, construct_id, removal=kernel.removal)
    cdk.Validations.of(queue).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions::AwsSolutions-SQS3", reason=why)
    )
    return queue


def _held_queue(scope: Construct, construct_id: str, *, removal: RemovalPolicy | None) -> sqs.Queue:
    """A queue nothing consumes on its own: its messages wait the longest SQS allows."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=HELD,
        removal_policy=removal,
    )


def weekday_schedule(
    scope: Construct,
    construct_id: str,
    *,
    function: lambda_.Function,
    description: str,
    hour: str,
    minute: str,
    time_field: str,
    what: str,
) -> scheduler.Schedule:
    """Invoke ``function`` at ``hour:minute`` Asia/Tokyo, Monday to Friday (the function tells a
    holiday from a business day), with the scheduled time in the payload as ``time_field`` so a
    delayed or retried run still knows its day; three retries within six hours.

    The scheduler's target role is one per stack, so its cdk-nag finding (invoke ``what`` and its
    versions) is acknowledged on the stack."""
    schedule = scheduler.Schedule(
        scope,
        construct_id,
        description=description,
        schedule=scheduler.ScheduleExpression.cron(
            minute=minute, hour=hour, week_day="MON-FRI", time_zone=TimeZone.ASIA_TOKYO
        ),
        target=targets.LambdaInvoke(
            function,
            input=scheduler.ScheduleTargetInput.from_object(
                {time_field: scheduler.ContextAttribute.scheduled_time}
            ),
            retry_attempts=3,
            max_event_age=Duration.hours(6),
        ),
    )
    cdk.Validations.of(cdk.Stack.of(scope)).acknowledge(
        cdk.Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
            reason=f"EventBridge Scheduler's role may invoke {what} and its versions/aliases "
            "(function-arn:*), the form CDK's LambdaInvoke target grants; no other function.",
        )
    )
    return schedule
