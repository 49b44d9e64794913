"""Payments core: the table, the event queue and its DLQ, provider secrets, webhook/processor/admin."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cardops import resources
from infra.bundling import dependencies_code, function_code

RUNTIME = lambda_.Runtime.PYTHON_3_14


class Core(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        retain = stage == "prod"
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
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
        self.secret = secretsmanager.Secret(
            self,
            "ProviderSecrets",
            description="cardops provider secrets (JSON): webhook secrets/tokens/hash keys and API keys",
            removal_policy=removal,
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
        self.functions: dict[str, lambda_.Function] = {}

        webhook = self.function("webhook")
        self.table.grant(webhook, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem")
        self.events_queue.grant_send_messages(webhook)
        self.secret.grant_read(webhook)

        processor = self.function("processor")
        self.table.grant(
            processor,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:ConditionCheckItem",
            # the refund and ledger listeners read a payment's refunds and ledger entries
            "dynamodb:Query",
        )
        processor.add_event_source(
            sources.SqsEventSource(self.events_queue, batch_size=10, report_batch_item_failures=True)
        )
        self.secret.grant_read(processor)

        admin = self.function("admin")
        self.table.grant_read_write_data(admin)
        self.secret.grant_read(admin)

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
