"""The cardops stack: one per stage."""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack
from constructs import Construct

from cardops import resources
from infra.constructs.api import Api
from infra.constructs.core import Core
from infra.constructs.feeds import Feeds
from infra.constructs.janitor import Janitor
from infra.constructs.observability import Observability
from infra.constructs.repayment import RepaymentWorkflow
from infra.constructs.workflows import CaptureDeadlineWorkflow
from infra.nag import acknowledge_findings


class CardopsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.core = Core(self, "Core", stage=stage)
        self.api = Api(
            self,
            "Api",
            stage=stage,
            webhook=self.core.functions["webhook"],
            admin=self.core.functions["admin"],
        )
        self.janitor = Janitor(self, "Janitor", core=self.core)
        self.capture_deadline = CaptureDeadlineWorkflow(self, "CaptureDeadline", core=self.core)
        self.feeds = Feeds(self, "Feeds", core=self.core, stage=stage)
        self.repayment = RepaymentWorkflow(
            self, "Repayment", core=self.core, evidence_bucket=self.feeds.evidence_bucket
        )
        self.observability = Observability(
            self,
            "Observability",
            stage=stage,
            core=self.core,
            api=self.api.rest_api,
            state_machines=[self.capture_deadline.state_machine, self.repayment.state_machine],
            feed_function=self.feeds.function,
            existing_alarms=[
                self.capture_deadline.auto_refund_failed,
                self.capture_deadline.failed_executions,
                self.capture_deadline.operator_backlog,
                self.repayment.failed_executions,
            ],
        )
        outputs = {
            "ApiUrl": self.api.rest_api.url,
            # the CLI and the sandbox read this; deployed stacks use the SDK's regional endpoints
            "AwsEndpointUrl": Fn.join("", ["https://", self.region, ".", self.url_suffix]),
            "AwsRegion": self.region,
            "TableName": self.core.table.table_name,
            "EventsQueueUrl": self.core.events_queue.queue_url,
            "DeadLetterQueueUrl": self.core.dead_letter_queue.queue_url,
            # the webhook verification secret (the output's name is the stable contract)
            "ProviderSecretArn": self.core.secret.secret_arn,
            "ProviderApiKeysSecretArn": self.core.api_keys_secret.secret_arn,
            "PayjpApiBaseUrl": "https://api.pay.jp",
            "SbpsApiBaseUrl": sbps_api_base(self.node.try_get_context("sbps_api_url")),
            "AlarmTopicArn": self.observability.topic.topic_arn,
            "DashboardName": self.observability.dashboard.dashboard_name,
        }
        for key, function in self.core.functions.items():
            outputs[resources.function_output_key(key)] = function.function_name
        for key, value in outputs.items():
            CfnOutput(self, key, value=value, key=key)
        acknowledge_findings(self)


def sbps_api_base(configured: str | None) -> str:
    """The SBPS API's scheme and host: the configured endpoint's, else the settings' default."""
    from urllib.parse import urlsplit

    from cardops.kernel.config import Settings

    url = configured or str(Settings.model_fields["sbps_api_url"].default)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
