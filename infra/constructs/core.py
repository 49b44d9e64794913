"""Payments core: the table, the event queue and its DLQ, provider secrets, webhook/processor/admin."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cardops import resources
from cardops.kernel.secrets import PROVIDER_API_KEYS, WEBHOOK_SECRET_KEYS
from infra.bundling import dependencies_code, function_code

RUNTIME = lambda_.Runtime.PYTHON_3_14

# Table actions by what a function does with its items (no Scan, no batch writes, no DescribeTable:
# nothing calls them). Transactions need the actions of their parts (Put, Update, Delete).
TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem")
TABLE_DELETE = ("dynamodb:DeleteItem",)


class Core(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        retain = stage == "prod"
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        #: what holds data people act on: retained in prod, destroyed with a dev stack (cdk destroy)
        self.removal = removal
        spec = resources.TABLE
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=retain,
            removal_policy=removal,
        )
        for index, (pk, sk) in spec.indexes.items():
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=pk, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=sk, type=dynamodb.AttributeType.STRING),
            )

        self.dead_letter_queue = sqs.Queue(
            self,
            "EventsDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal,  # failed events wait here for a redrive
        )
        queue_spec = resources.EVENTS_QUEUE
        self.events_queue = sqs.Queue(
            self,
            "EventsQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(queue_spec.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=queue_spec.max_receive_count, queue=self.dead_letter_queue
            ),
        )
        self.secret = self._json_secret(
            "ProviderSecrets",
            "cardops webhook verification secrets (JSON): signing secrets, tokens, hash keys",
            WEBHOOK_SECRET_KEYS,
        )
        self.api_keys_secret = self._json_secret(
            "ProviderApiKeys",
            "cardops provider API keys (JSON); never readable by the webhook function",
            PROVIDER_API_KEYS,
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=dependencies_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="cardops runtime dependencies from requirements-lambda.lock",
        )
        self._code = function_code()
        self.environment = {
            "CARDOPS_STAGE": stage,
            "TABLE_NAME": self.table.table_name,
            "EVENTS_QUEUE_URL": self.events_queue.queue_url,
            "WEBHOOK_SECRET_ID": self.secret.secret_arn,
            "POWERTOOLS_METRICS_NAMESPACE": "cardops",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        # SBPS names a merchant's API endpoint with the contract (cdk.json context ``sbps_api_url``)
        if sbps_api_url := self.node.try_get_context("sbps_api_url"):
            self.environment["SBPS_API_URL"] = str(sbps_api_url)
        self.functions: dict[str, lambda_.Function] = {}

        # the internet-facing function: raw events (put if absent — a duplicate's stored item comes
        # back with the failed condition, so no read — and mark enqueued), the queue, and only the
        # webhook verification secret
        webhook = self.function("webhook")
        self.table.grant(webhook, *TABLE_WRITE)
        self.events_queue.grant_send_messages(webhook)
        self.secret.grant_read(webhook)

        # payments, history, and the listeners' ledger and refund items; re-fetches from PAY.JP
        processor = self.function("processor")
        self.table.grant(processor, *TABLE_READ, *TABLE_WRITE)
        processor.add_event_source(
            sources.SqsEventSource(self.events_queue, batch_size=10, report_batch_item_failures=True)
        )
        self.grant_api_keys(processor)

        # every admin action; deletes: outcome claims released, employee linkage codes replaced
        admin = self.function("admin")
        self.table.grant(admin, *TABLE_READ, *TABLE_WRITE, *TABLE_DELETE)
        self.grant_api_keys(admin)
        # parked events: listed (receive, release), moved back to the events queue, then deleted
        admin.add_environment("DEAD_LETTER_QUEUE_URL", self.dead_letter_queue.queue_url)
        self.dead_letter_queue.grant_consume_messages(admin)
        self.events_queue.grant_send_messages(admin)

    def _json_secret(self, construct_id: str, description: str, keys: list[str]) -> secretsmanager.Secret:
        """A secret that starts as JSON with every key present and empty, so a fresh stack answers
        "not configured" instead of failing to parse a generated password (README, Deploying)."""
        return secretsmanager.Secret(
            self,
            construct_id,
            description=description,
            secret_object_value={key: SecretValue.unsafe_plain_text("") for key in keys},
            removal_policy=self.removal,
        )

    def grant_api_keys(self, function: lambda_.Function) -> None:
        """Read the provider API keys (functions that call the providers' APIs), and know where."""
        function.add_environment("PROVIDER_API_KEYS_SECRET_ID", self.api_keys_secret.secret_arn)
        self.api_keys_secret.grant_read(function)

    def function(self, key: str) -> lambda_.Function:
        """A function from ``resources.FUNCTIONS``, with its own log group and X-Ray tracing."""
        spec = resources.FUNCTIONS[key]
        name = "".join(part.capitalize() for part in key.split("_"))
        log_group = logs.LogGroup(
            self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"cardops {key} function",
        )
        log_group.grant_write(role)
        fn = lambda_.Function(
            self,
            f"{name}Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=spec.handler,
            code=self._code,
            layers=[self.layer],
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            environment={**self.environment, "POWERTOOLS_SERVICE_NAME": f"cardops-{key}"},
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
        )
        self.functions[key] = fn
        return fn

    @property
    def region(self) -> str:
        return Stack.of(self).region
