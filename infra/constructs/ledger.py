"""The ledger slice's infrastructure: the daily reconciliation (issue 11 item 2) and its alarms.

The ``reconcile`` function compares each store's payments with its ledger at 03:00 Asia/Tokyo,
posts what is missing and resubmits refunds stuck in ``requested``. It reads by store and by key
(Query, BatchGetItem; no Scan), writes entries and refunds in transactions (Put, Update; no Delete),
reads the provider API keys (the sweep calls the providers) and alerts finance on the operator queue.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.kernel import TABLE_READ, TABLE_WRITE, Kernel
from infra.constructs.monitoring import alarm, function_widget, service_metric


class Ledger(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, kernel: Kernel, operator_queue: sqs.IQueue
    ) -> None:
        super().__init__(scope, construct_id)
        function = kernel.function(self, "reconcile")
        self.function = function
        self.functions: dict[str, lambda_.Function] = {"reconcile": function}
        kernel.table.grant(function, *TABLE_READ, *TABLE_WRITE)
        kernel.grant_api_keys(function)
        function.add_environment("OPERATOR_QUEUE_URL", operator_queue.queue_url)
        operator_queue.grant_send_messages(function)
        self.rule = events.Rule(
            self,
            "ReconcileDaily",
            description="cardops ledger reconciliation: repair or alarm on ledger/payment differences",
            # 03:00 Asia/Tokyo: after the day's webhooks, before finance starts
            schedule=events.Schedule.cron(minute="0", hour="18"),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        self.alarms: list[cloudwatch.Alarm] = [
            alarm(
                self,
                "LedgerDifferencesUnresolved",
                "The reconciliation found a ledger difference it cannot repair (an entry posted with "
                "other facts, or a provider refund beyond the ceiling): run `cardops ledger reconcile "
                "--store S` and correct with an adjustment.",
                service_metric("LedgerDifferencesUnresolved", "reconcile").with_(period=Duration.days(1)),
                threshold=1,
            ),
            alarm(
                self,
                "ReconciliationFailed",
                "The daily ledger reconciliation raised; see its logs (the next run covers two days).",
                function.metric_errors(period=Duration.days(1), statistic="Sum"),
                threshold=1,
            ),
        ]

    def grant_routes(self, admin: lambda_.Function) -> None:
        """The reconcile route reads and writes what the payments routes already may (no more)."""

    def widgets(self) -> list[list[cloudwatch.IWidget]]:
        return [
            [
                cloudwatch.GraphWidget(
                    title="Ledger reconciliation",
                    left=[
                        service_metric(n, "reconcile")
                        for n in ("LedgerEntriesRepaired", "LedgerDifferencesUnresolved")
                    ],
                    right=[
                        service_metric(n, "reconcile")
                        for n in ("StuckRefundsResubmitted", "StuckRefundsPending")
                    ],
                    width=16,
                ),
                function_widget("reconcile", self.function),
            ]
        ]
