"""The payments slice's infrastructure (SPEC §1-§5): webhook intake, the events queue and its DLQ,
the processor, the janitor, the evidence bucket, the capture-deadline and re-payment workflows, and
their alarms. It owns its functions; the admin API's function is handed in by the stack, and this
construct grants it exactly what the payments routes need (``grant_routes``).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from cardops import resources
from infra.constructs.building_blocks import end_of_line_queue, private_bucket, work_queue
from infra.constructs.kernel import TABLE_DELETE, TABLE_READ, TABLE_WRITE, Kernel
from infra.constructs.monitoring import FIVE_MINUTES, alarm, function_widget, service_metric
from infra.constructs.payments.capture_deadline import CaptureDeadlineWorkflow
from infra.constructs.payments.janitor import Janitor
from infra.constructs.payments.repayment import EVIDENCE_PREFIX, RepaymentWorkflow
from infra.logical_ids import keep_logical_id


class Payments(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, kernel: Kernel) -> None:
        super().__init__(scope, construct_id)
        self.kernel = kernel
        # failed events wait in the dead-letter queue for a redrive
        self.events_queue, self.dead_letter_queue = work_queue(
            self,
            "EventsQueue",
            spec=resources.EVENTS_QUEUE,
            dead_letter_id="EventsDeadLetterQueue",
            dead_letter_removal=kernel.removal,
        )
        keep_logical_id(self.dead_letter_queue, "CoreEventsDeadLetterQueueA3B35771")
        keep_logical_id(self.events_queue, "CoreEventsQueueA553171A")
        self.evidence_bucket = private_bucket(
            self, "EvidenceBucket", kernel=kernel, log_prefix="evidence-bucket/"
        )
        keep_logical_id(self.evidence_bucket, "FeedsEvidenceBucket5D7C5FFB")
        CfnOutput(
            Stack.of(self),
            "EvidenceBucketName",
            value=self.evidence_bucket.bucket_name,
            key="EvidenceBucketName",
        )
        self.functions: dict[str, lambda_.Function] = {}

        # the internet-facing function: raw events (put if absent, nothing else — a duplicate's
        # stored item comes back with the failed condition, so no read, and says whether it still
        # awaits processing, so no mark), the queue, and only the webhook verification secret
        webhook = self._function("webhook")
        webhook.add_environment("EVENTS_QUEUE_URL", self.events_queue.queue_url)
        kernel.table.grant(webhook, "dynamodb:PutItem")
        self.events_queue.grant_send_messages(webhook)
        kernel.secret.grant_read(webhook)
        self.webhook = webhook

        # payments and their history (what follows runs on the change feed); re-fetches from PAY.JP
        processor = self._function("processor")
        kernel.table.grant(processor, *TABLE_READ, *TABLE_WRITE)
        processor.add_event_source(
            sources.SqsEventSource(self.events_queue, batch_size=10, report_batch_item_failures=True)
        )
        kernel.grant_api_keys(processor)

        # the payments janitor (SPEC §1): a scheduler reads what is due, a worker checks it
        self.janitor = Janitor(
            self,
            "Janitor",
            kernel=kernel,
            scheduler=self._function("janitor"),
            worker=self._function("janitor_worker"),
        )

        self.capture_deadline = CaptureDeadlineWorkflow(
            self,
            "CaptureDeadline",
            kernel=kernel,
            task=self._function("capture_deadline"),
            starters=[self._change_feed()],
        )
        self.repayment = RepaymentWorkflow(
            self,
            "Repayment",
            kernel=kernel,
            steps={
                key: self._function(key)
                for key in resources.STATE_MACHINES["Repayment"].function_substitutions.values()
            },
            evidence_bucket=self.evidence_bucket,
        )
        self.state_machines = [self.capture_deadline.state_machine, self.repayment.state_machine]
        self.alarms: list[cloudwatch.Alarm] = [
            *self.capture_deadline.alarms,
            *self.repayment.alarms,
            *self.janitor.alarms,
            *self._alarms(),
            *self._change_feed_alarms(),
        ]

    def _change_feed(self) -> lambda_.Function:
        """The durable change feed (issue 11): the table's stream → the ``changes`` function, which
        runs the payment listeners (ledger posting, refund sync, capture-deadline start/stop).

        The mapping is ``resources.CHANGE_FEED`` (the sandbox's stream poller reads the same spec):
        payment items only, bounded retries, bisect on error, a maximum record age, partial batch
        failures, and an on-failure queue that pages someone as soon as a batch lands in it.
        """
        spec = resources.CHANGE_FEED
        self.changes_failure_queue = end_of_line_queue(
            self,
            "ChangesFailureQueue",
            kernel=self.kernel,
            why="The change feed's on-failure destination is the end of the line: it holds where the "
            "failed batches are in the stream, read by people (alarmed on depth).",
        )
        changes = self._function(spec.function)
        # the listeners: ledger entries and balances, refunds and their ceiling, finance alerts (read
        # by key and query; transactions of puts and updates); the source grants the stream read
        self.kernel.table.grant(changes, *TABLE_READ, *TABLE_WRITE)
        changes.add_event_source(
            sources.DynamoEventSource(
                self.kernel.table,
                starting_position=lambda_.StartingPosition(spec.starting_position),
                batch_size=spec.batch_size,
                bisect_batch_on_error=spec.bisect_on_error,
                retry_attempts=spec.retry_attempts,
                max_record_age=Duration.seconds(spec.max_record_age_seconds),
                report_batch_item_failures=spec.report_batch_item_failures,
                on_failure=sources.SqsDlq(self.changes_failure_queue),
                filters=[lambda_.FilterCriteria.filter(pattern) for pattern in spec.filter_patterns],
            )
        )
        CfnOutput(
            Stack.of(self),
            "ChangesFailureQueueUrl",
            value=self.changes_failure_queue.queue_url,
            key="ChangesFailureQueueUrl",
        )
        CfnOutput(
            Stack.of(self),
            "TableStreamArn",
            value=self.kernel.table.table_stream_arn or "",
            key="TableStreamArn",
        )
        return changes

    def _change_feed_alarms(self) -> list[cloudwatch.Alarm]:
        return [
            alarm(
                self,
                "ChangeFeedFailures",
                "Payment changes whose listeners kept failing (or waited too long) were set aside: the "
                "on-failure queue says where they are in the stream.",
                self.changes_failure_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                threshold=1,
            ),
            alarm(
                self,
                "ChangeFeedLag",
                "The change feed is more than 15 minutes behind the table's writes.",
                self.functions["changes"].metric("IteratorAge", statistic="Maximum", period=FIVE_MINUTES),
                threshold=15 * 60 * 1000,
            ),
        ]

    def _function(self, key: str) -> lambda_.Function:
        function = self.kernel.function(self, key)
        self.functions[key] = function
        return function

    def grant_routes(self, admin: lambda_.Function) -> None:
        """What the admin API's payments routes do: every payment action (deletes: outcome claims
        released), provider calls, parked events listed and redriven, the workflows started and
        read, and consent documents written under ``evidence/``."""
        self.kernel.table.grant(admin, *TABLE_READ, *TABLE_WRITE, *TABLE_DELETE)
        self.kernel.grant_api_keys(admin)
        admin.add_environment("EVENTS_QUEUE_URL", self.events_queue.queue_url)
        admin.add_environment("DEAD_LETTER_QUEUE_URL", self.dead_letter_queue.queue_url)
        self.dead_letter_queue.grant_consume_messages(admin)
        self.events_queue.grant_send_messages(admin)
        self.capture_deadline.grant_alerts(admin)
        self.capture_deadline.grant_notifications(admin)
        self.repayment.grant_admin(admin)
        admin.add_environment("EVIDENCE_BUCKET_NAME", self.evidence_bucket.bucket_name)
        admin.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.evidence_bucket.arn_for_objects(EVIDENCE_PREFIX)]
            )
        )
        self.repayment.acknowledge_evidence(admin)

    def _alarms(self) -> list[cloudwatch.Alarm]:
        # a crash answers 502 and never emits the Webhook5xx metric: alarm on the function's Errors
        return [
            alarm(
                self,
                "DeadLetterQueueNotEmpty",
                "Webhook events failed processing 5 times and wait in the DLQ; inspect and redrive.",
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                threshold=1,
            ),
            alarm(
                self,
                "WebhookServerErrorRate",
                "More than 1 % of webhooks answered 5xx (the event store was unavailable); providers retry.",
                _webhook_rate("Webhook5xx"),
                threshold=1,
            ),
            alarm(
                self,
                "WebhookClientErrorRate",
                "More than 20 % of webhooks were refused (bad signatures or bodies): a secret rotated "
                "at the provider but not here, or someone probing the endpoint.",
                _webhook_rate("Webhook4xx"),
                threshold=20,
                periods=2,
            ),
            alarm(
                self,
                "WebhookFunctionErrors",
                "The webhook function raised an unhandled error (a crash answers 502); see its logs.",
                self.webhook.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
            ),
            alarm(
                self,
                "ProcessorErrors",
                "The event processor raised errors in 3 consecutive periods (provider API or table "
                "unavailable).",
                self.functions["processor"].metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
                periods=3,
            ),
            alarm(
                self,
                "EventsParked",
                "An authentic webhook event failed its provider's schema and was parked (no retry can "
                "fix it): see `cardops events parked`, fix the mapping, deploy, then redrive it.",
                service_metric("EventParked", "processor"),
                threshold=1,
            ),
            alarm(
                self,
                "EventsQueueAge",
                "Webhook events wait more than 15 minutes in the queue.",
                self.events_queue.metric_approximate_age_of_oldest_message(
                    period=FIVE_MINUTES, statistic="Maximum"
                ),
                threshold=900,
            ),
            *(
                # aborted executions are not alarming: a capture stops its deadline execution on purpose
                alarm(
                    self,
                    f"WorkflowTimedOut{index}",
                    "A workflow execution timed out.",
                    machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
                    threshold=1,
                )
                for index, machine in enumerate(self.state_machines)
            ),
        ]

    def widgets(self) -> list[list[cloudwatch.IWidget]]:
        """The dashboard rows of payments: webhooks, processing, workflows, and its functions."""
        machines = self.state_machines
        return [
            [
                cloudwatch.GraphWidget(
                    title="Webhooks",
                    left=[
                        service_metric(name, "webhooks")
                        for name in ("WebhookAccepted", "WebhookDuplicate", "Webhook4xx", "Webhook5xx")
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Event processing",
                    left=[
                        service_metric(n, "processor")
                        for n in ("PaymentChanged", "EventNoChange", "EventIgnored")
                    ],
                    right=[
                        self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                            period=FIVE_MINUTES
                        )
                    ],
                    width=12,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Workflows",
                    left=[m.metric_started(period=FIVE_MINUTES) for m in machines]
                    + [m.metric_failed(period=FIVE_MINUTES) for m in machines],
                    right=[
                        service_metric("AutoRefunded", "capture-deadline"),
                        service_metric("AutoRefundFailed", "capture-deadline"),
                    ],
                    width=12,
                ),
            ],
            [function_widget(key, self.functions[key]) for key in ("webhook", "processor")],
            [self.janitor.widget()],
        ]


def _webhook_rate(name: str) -> cloudwatch.MathExpression:
    """Percent of webhook answers that were ``name``."""
    return cloudwatch.MathExpression(
        expression="100 * FILL(bad, 0) / MAX([FILL(ok, 0) + FILL(dup, 0) + FILL(c4, 0) + FILL(c5, 0), 1])",
        using_metrics={
            "bad": service_metric(name, "webhooks"),
            "ok": service_metric("WebhookAccepted", "webhooks"),
            "dup": service_metric("WebhookDuplicate", "webhooks"),
            "c4": service_metric("Webhook4xx", "webhooks"),
            "c5": service_metric("Webhook5xx", "webhooks"),
        },
        period=FIVE_MINUTES,
    )
