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
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        alarms: Sequence[cloudwatch.Alarm],
        widgets: Sequence[Sequence[cloudwatch.IWidget]],
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
        for each in alarms:
            each.add_alarm_action(actions.SnsAction(self.topic))
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"cardops-{stage}")
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24, height=4),
        )
        for row in widgets:
            self.dashboard.add_widgets(*row)
