"""Alarms and the operations dashboard (SPEC §9): every alarm notifies one encrypted SNS topic.

The topic is encrypted with a customer-managed key whose policy lets CloudWatch use it: CloudWatch
cannot publish to a topic under the AWS-managed ``alias/aws/sns`` key, so its alarms would be
dropped silently. ``-c alarmEmail=ops@example.com`` subscribes an address (it must confirm the
e-mail AWS sends); a prod synth without one warns, since nobody would hear the alarms.

What each alarm means and what to do is in the README's runbooks, under the alarm's name.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.core import Core

NAMESPACE = "cardops"
FIVE_MINUTES = Duration.minutes(5)


def service_metric(name: str, service: str, statistic: str = "Sum") -> cloudwatch.Metric:
    """A Powertools metric: namespace ``cardops``, dimension ``service``."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=statistic,
        period=FIVE_MINUTES,
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        core: Core,
        api: apigw.RestApi,
        state_machines: Sequence[sfn.IStateMachine],
        feed_function: lambda_.IFunction,
        existing_alarms: Sequence[cloudwatch.Alarm] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"cardops {stage} alarm topic: CloudWatch may encrypt what it publishes",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if stage == "prod" else RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToTheTopic",
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is this key
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"cardops {stage} alarms",
            enforce_ssl=True,
            master_key=self.key,
        )
        email = self.node.try_get_context("alarmEmail")
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(str(email)))
        elif stage == "prod":
            Annotations.of(self).add_warning_v2(
                "cardops:no-alarm-email",
                "No alarm subscriber: deploy with -c alarmEmail=ops@example.com (README, Deploying).",
            )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
            )
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        self._alarm(
            "DeadLetterQueueNotEmpty",
            "Webhook events failed processing 5 times and wait in the DLQ; inspect and redrive.",
            core.dead_letter_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
            threshold=1,
        )
        self._alarm(
            "WebhookServerErrorRate",
            "More than 1 % of webhooks answered 5xx (the event store was unavailable); providers retry.",
            self._rate("Webhook5xx"),
            threshold=1,
        )
        self._alarm(
            "WebhookClientErrorRate",
            "More than 20 % of webhooks were refused (bad signatures or bodies): a secret rotated "
            "at the provider but not here, or someone probing the endpoint.",
            self._rate("Webhook4xx"),
            threshold=20,
            periods=2,
        )
        # a crash answers 502 and never emits the Webhook5xx metric: alarm on the functions' Errors
        for key, name in (("webhook", "WebhookFunctionErrors"), ("admin", "AdminFunctionErrors")):
            self._alarm(
                name,
                f"The {key} function raised an unhandled error (a crash answers 502); see its logs.",
                core.functions[key].metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
            )
        self._alarm(
            "ApiServerErrors",
            "API Gateway answered 5xx at least 5 times in 5 minutes (crashes, timeouts, store unavailable).",
            api.deployment_stage.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            threshold=5,
        )
        self._alarm(
            "ProcessorErrors",
            "The event processor raised errors in 3 consecutive periods (provider API or table unavailable).",
            core.functions["processor"].metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            periods=3,
        )
        self._alarm(
            "EventsQueueAge",
            "Webhook events wait more than 15 minutes in the queue.",
            core.events_queue.metric_approximate_age_of_oldest_message(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            threshold=900,
        )
        self._alarm(
            "FeedSyncFailed",
            "The scheduled card statement sync failed; the next run picks up everything since the watermark.",
            feed_function.metric_errors(period=Duration.hours(1), statistic="Sum"),
            threshold=1,
        )
        self._alarm(
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
        )
        for index, machine in enumerate(state_machines):
            # aborted executions are not alarming: a capture stops its deadline execution on purpose
            self._alarm(
                f"WorkflowTimedOut{index}",
                "A workflow execution timed out.",
                machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
            )
        all_alarms = [*self.alarms.values(), *existing_alarms]
        for alarm in existing_alarms:
            alarm.add_alarm_action(actions.SnsAction(self.topic))

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"cardops-{stage}")
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=all_alarms, width=24, height=4),
        )
        self.dashboard.add_widgets(
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
                    core.dead_letter_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES)
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Workflows",
                left=[m.metric_started(period=FIVE_MINUTES) for m in state_machines]
                + [m.metric_failed(period=FIVE_MINUTES) for m in state_machines],
                right=[
                    service_metric("AutoRefunded", "capture-deadline"),
                    service_metric("AutoRefundFailed", "capture-deadline"),
                ],
                width=12,
            ),
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
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{key} function",
                    left=[fn.metric_invocations(period=FIVE_MINUTES), fn.metric_errors(period=FIVE_MINUTES)],
                    right=[fn.metric_duration(period=FIVE_MINUTES, statistic="p99")],
                    width=8,
                )
                for key, fn in core.functions.items()
                if key in ("webhook", "processor", "admin")
            )
        )

    def _rate(self, name: str) -> cloudwatch.MathExpression:
        """Percent of webhook answers that were ``name``."""
        return cloudwatch.MathExpression(
            expression=(
                "100 * FILL(bad, 0) / MAX([FILL(ok, 0) + FILL(dup, 0) + FILL(c4, 0) + FILL(c5, 0), 1])"
            ),
            using_metrics={
                "bad": service_metric(name, "webhooks"),
                "ok": service_metric("WebhookAccepted", "webhooks"),
                "dup": service_metric("WebhookDuplicate", "webhooks"),
                "c4": service_metric("Webhook4xx", "webhooks"),
                "c5": service_metric("Webhook5xx", "webhooks"),
            },
            period=FIVE_MINUTES,
        )

    def _alarm(
        self, name: str, description: str, metric: cloudwatch.IMetric, *, threshold: float, periods: int = 1
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_name=None,
            alarm_description=f"[{name}] {description}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm
        return alarm
