"""The cardops stack: one per stage, composed of one construct per slice on a shared kernel.

Each slice construct owns its functions, grants and alarms; none reaches into another. The admin
function (the API's outer shell) is owned by the API construct and handed to each slice, which
grants it what that slice's routes need. Observability only routes alarms to the topic and lays out
the dashboard from what the slices declare, so the order below only follows the data it passes.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cardops import resources
from infra.constructs.api import Api
from infra.constructs.console import Console
from infra.constructs.feeds import Feeds
from infra.constructs.kernel import Kernel
from infra.constructs.ledger import Ledger
from infra.constructs.observability import Observability
from infra.constructs.payments import Payments
from infra.constructs.support import Support
from infra.nag import acknowledge_findings


class CardopsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        # buckets log to the kernel's log bucket through its bucket policy (no ACLs), also when the
        # app is built in-process without cdk.json (the sandbox's IAM extraction)
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        # the kernel keeps the construct id "Core": the table and the secrets keep their logical ids
        self.kernel = Kernel(self, "Core", stage=stage)
        self.payments = Payments(self, "Payments", kernel=self.kernel)
        self.feeds = Feeds(self, "Feeds", kernel=self.kernel)
        self.ledger = Ledger(
            self, "Ledger", kernel=self.kernel, operator_queue=self.payments.capture_deadline.operator_queue
        )
        self.api = Api(self, "Api", stage=stage, kernel=self.kernel, webhook=self.payments.webhook)
        self.console = Console(
            self,
            "Console",
            stage=stage,
            kernel=self.kernel,
            rest_api=self.api.rest_api,
            payments=self.payments,
        )
        self.support = Support(
            self,
            "Support",
            kernel=self.kernel,
            # the change feed's listeners open cases for rejected refunds; the deadline task for failed
            # auto-refunds (the admin API through grant_routes); the console for a card-line diagnosis
            # that finds a registration error, and for a refund the card company rejects
            hook_callers=[
                self.payments.functions["changes"],
                self.payments.functions["capture_deadline"],
                self.console.function,
            ],
        )
        # finance's operator queue in the console resolves auto-refund cases (stopping their timers)
        self.support.grant_case_actions(self.console.function)
        for slice_ in (self.payments, self.feeds, self.ledger, self.support):
            slice_.grant_routes(self.api.admin)
        self.observability = Observability(
            self,
            "Observability",
            stage=stage,
            alarms=[
                *self.payments.alarms,
                *self.feeds.alarms,
                *self.ledger.alarms,
                *self.support.alarms,
                *self.api.alarms,
                *self.console.alarms,
            ],
            widgets=[
                *self.payments.widgets(),
                *self.feeds.widgets(),
                *self.ledger.widgets(),
                *self.support.widgets(),
                *self.api.widgets(),
                *self.console.widgets(),
            ],
        )
        outputs = {
            "ApiUrl": self.api.rest_api.url,
            # where providers are registered (`{WebhookApiUrl}webhooks/{provider}`): an HTTP API
            "WebhookApiUrl": self.api.webhook_stage.url,
            # where the platform calls the admin routes (`{AdminApiUrl}admin/…`): an HTTP API, IAM
            "AdminApiUrl": self.api.admin_stage.url,
            # the CLI and the sandbox read this; deployed stacks use the SDK's regional endpoints
            "AwsEndpointUrl": Fn.join("", ["https://", self.region, ".", self.url_suffix]),
            "AwsRegion": self.region,
            "TableName": self.kernel.table.table_name,
            "EventsQueueUrl": self.payments.events_queue.queue_url,
            "DeadLetterQueueUrl": self.payments.dead_letter_queue.queue_url,
            "JanitorQueueUrl": self.payments.janitor.queue.queue_url,
            "JanitorDeadLetterQueueUrl": self.payments.janitor.dead_letter_queue.queue_url,
            # the webhook verification secret (the output's name is the stable contract)
            "ProviderSecretArn": self.kernel.secret.secret_arn,
            "ProviderApiKeysSecretArn": self.kernel.api_keys_secret.secret_arn,
            "PayjpApiBaseUrl": "https://api.pay.jp",
            "StripeApiBaseUrl": "https://api.stripe.com",
            "SbpsApiBaseUrl": sbps_api_base(self.node.try_get_context("sbps_api_url")),
            "AlarmTopicArn": self.observability.topic.topic_arn,
            "DashboardName": self.observability.dashboard.dashboard_name,
            # the web console, and the pool an operator adds its users to (README "Web console")
            "ConsoleUrl": Fn.join("", [self.api.rest_api.url, "console"]),
            "ConsoleUserPoolId": self.console.user_pool.user_pool_id,
            "ConsoleUserPoolClientId": self.console.client.user_pool_client_id,
        }
        for key, function in self.functions().items():
            outputs[resources.function_output_key(key)] = function.function_name
        for key, value in outputs.items():
            CfnOutput(self, key, value=value, key=key)
        acknowledge_findings(self)

    def functions(self) -> dict[str, lambda_.Function]:
        """Every function of the stack by its ``resources.FUNCTIONS`` key (each is in one slice)."""
        found = {
            **self.payments.functions,
            **self.feeds.functions,
            **self.ledger.functions,
            **self.support.functions,
            **self.api.functions,
            **self.console.functions,
        }
        missing = set(resources.FUNCTIONS) - set(found)
        assert not missing, f"functions declared in resources.py but built by no slice: {sorted(missing)}"
        return found


def sbps_api_base(configured: str | None) -> str:
    """The SBPS API's scheme and host: the configured endpoint's, else the settings' default."""
    from urllib.parse import urlsplit

    from cardops.kernel.config import Settings

    url = configured or str(Settings.model_fields["sbps_api_url"].default)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
