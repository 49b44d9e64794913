"""The payments janitor (SPEC §1, issue 11 item 4): lost webhooks repaired on due time.

A scheduler (EventBridge, every ``JANITOR_PERIOD_MINUTES``) queries only the entries of the
table's ``gsi2`` with a check due since its last run and sends them in batches to the janitor
queue; a worker (SQS trigger, bounded concurrency so providers are not flooded) re-fetches each
payment and applies it. A batch that keeps failing waits in the janitor's dead-letter queue; its
payments are sent again at their next checks.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from cardops import resources
from infra.constructs.building_blocks import work_queue
from infra.constructs.kernel import TABLE_READ, TABLE_WRITE, Kernel
from infra.constructs.monitoring import alarm, service_metric

#: at most this many worker invocations at once: provider API calls stay well under rate limits
WORKER_CONCURRENCY = 5


class Janitor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kernel: Kernel,
        scheduler: lambda_.Function,
        worker: lambda_.Function,
    ) -> None:
        super().__init__(scope, construct_id)
        spec = resources.JANITOR_QUEUE
        period = Duration.minutes(resources.JANITOR_PERIOD_MINUTES)
        self.queue, self.dead_letter_queue = work_queue(
            self, "Queue", spec=spec, dead_letter_id="DeadLetterQueue"
        )

        # the scheduler: due entries of gsi2 (that index only), its checkpoint item, the queue
        scheduler.add_environment("JANITOR_QUEUE_URL", self.queue.queue_url)
        scheduler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{kernel.table.table_arn}/index/gsi2"]
            )
        )
        scheduler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem"], resources=[kernel.table.table_arn]
            )
        )
        self.queue.grant_send_messages(scheduler)
        self.rule = events.Rule(
            self,
            "Schedule",
            description="cardops payments janitor: enqueue the payments whose next check is due",
            schedule=events.Schedule.rate(period),
            targets=[targets.LambdaFunction(scheduler, retry_attempts=2)],
        )

        # the worker: reads a payment, writes a repair (a check that finds nothing writes nothing);
        # re-fetches from the providers with their keys
        kernel.table.grant(worker, *TABLE_READ, *TABLE_WRITE)
        kernel.grant_api_keys(worker)
        worker.add_event_source(
            sources.SqsEventSource(
                self.queue, batch_size=1, report_batch_item_failures=True, max_concurrency=WORKER_CONCURRENCY
            )
        )

        self.alarms = [
            alarm(
                self,
                "JanitorDeadLetters",
                "A janitor batch failed 3 times and waits in the janitor DLQ (its payments are checked again "
                "at their next checks); "
                "see the worker's logs.",
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5)
                ),
                threshold=1,
            ),
            alarm(
                self,
                "JanitorFallingBehind",
                "Due payments waited more than one janitor period in the janitor queue: the worker is "
                "failing or throttled.",
                self.queue.metric_approximate_age_of_oldest_message(period=period, statistic="Maximum"),
                threshold=period.to_seconds(),
            ),
            alarm(
                self,
                "JanitorSchedulerFailed",
                "The janitor's scheduler failed or stopped short twice in a row: due payments are not "
                "being sent for checks.",
                cloudwatch.MathExpression(
                    expression="FILL(errors, 0) + FILL(incomplete, 0)",
                    using_metrics={
                        "errors": scheduler.metric_errors(period=period, statistic="Sum"),
                        "incomplete": service_metric("JanitorRunIncomplete", "janitor").with_(period=period),
                    },
                    period=period,
                ),
                threshold=1,
                periods=2,
            ),
        ]

    def widget(self) -> cloudwatch.GraphWidget:
        """Due, checked, repaired and failed payments per period, and the queue's backlog."""
        return cloudwatch.GraphWidget(
            title="Payments janitor",
            left=[
                service_metric(name, "janitor")
                for name in ("JanitorDue", "JanitorChecked", "JanitorRepaired", "JanitorFailed")
            ],
            right=[self.queue.metric_approximate_number_of_messages_visible()],
            width=12,
        )
