"""The kernel every slice builds on: the table, the provider secrets, the dependencies layer, the
access-log bucket, and the one way a slice makes a function (``Kernel.function``, in the slice's own
scope, so the slice owns the function, its role, its grants and its alarms).

Its construct id stays ``Core`` in the stack: the table and the secrets keep their logical ids.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cardops import resources
from cardops.kernel.secrets import PROVIDER_API_KEYS, WEBHOOK_SECRET_KEYS
from infra.bundling import dependencies_code, function_code
from infra.logical_ids import keep_logical_id

RUNTIME = lambda_.Runtime.PYTHON_3_14
#: Graviton: about 20% less per GB-second than x86_64 (the cost model reads it from the template);
#: every locked dependency ships a manylinux aarch64 wheel (``infra/bundling.PLATFORM``)
ARCHITECTURE = lambda_.Architecture.ARM_64
#: the level cardops' loggers write at (``POWERTOOLS_LOG_LEVEL``); Lambda's advanced logging controls
#: filter application lines at the same level (Powertools reads ``AWS_LAMBDA_LOG_LEVEL`` first and
#: asks for the two to agree). Powertools' EMF metric lines carry no ``level``, so Lambda files them
#: as INFO and keeps them: the alarms' metrics still arrive.
LOG_LEVEL = "INFO"
#: Lambda's own lines: START/END/REPORT are INFO events, so at WARN only the platform's warnings and
#: errors (a timeout, a crash) are written; the cost model reads this from the template
SYSTEM_LOG_LEVEL = lambda_.SystemLogLevel.WARN
#: X-Ray (README "Tracing"): the scheduled functions sample their own runs (Active: Lambda's 1 a
#: second and 5%, a few runs a day); every other function runs for a request, a payment's event or a
#: workflow step and is traced exactly when its upstream sampled (PassThrough): the REST stage and the
#: state machines by the stack's sampling rules (``constructs/tracing.py``). A queue, a stream or
#: an HTTP API (no X-Ray) invokes without a sampled header, so the webhook and the admin function at
#: their HTTP APIs, the processor, the change feed and the janitor's worker are not traced: in Active
#: each would be a trace root sampled at 1/s, most of its invocations at this traffic (the cost
#: model's x_ray line). ``-c xray_active_functions=webhook,admin`` puts functions back in Active.
ACTIVE_TRACING = frozenset({"janitor", "reconcile", "feed_sync", "support_report"})
ACTIVE_TRACING_CONTEXT = "xray_active_functions"

# Table actions by what a function does with its items (no Scan, no DescribeTable: nothing calls them;
# batch writes only for the feed sync, in feeds.py). Transactions need the actions of their parts.
TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem")
TABLE_DELETE = ("dynamodb:DeleteItem",)


#: cdk.json context → the environment variable of the SBPS re-payment error types (``Settings``)
SBPS_ERROR_CONTEXT = {
    "sbps_duplicate_order_errors": "SBPS_DUPLICATE_ORDER_ERRORS",
    "sbps_no_stored_card_errors": "SBPS_NO_STORED_CARD_ERRORS",
}


class Kernel(Construct):
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
            # storage (a year of payments and ledger entries, their index entries) costs more than
            # the requests at the cost model's shape: Standard-IA stores for 60% less and bills
            # requests 25% more (the model prices both and prints the break-even)
            table_class=dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            # the payments' durable change feed (``payments.ChangeFeed``) reads every write from it
            stream=dynamodb.StreamViewType(spec.stream_view_type),
            deletion_protection=retain,
            removal_policy=removal,
        )
        for index, (pk, sk) in spec.indexes.items():
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=pk, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=sk, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType(spec.projections[index]),
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
            compatible_architectures=[ARCHITECTURE],
            description="cardops runtime dependencies from requirements-lambda.lock",
        )
        self._code = function_code()
        self.environment = {
            "CARDOPS_STAGE": stage,
            "TABLE_NAME": self.table.table_name,
            "WEBHOOK_SECRET_ID": self.secret.secret_arn,
            "POWERTOOLS_METRICS_NAMESPACE": "cardops",
            "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
        }
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(400))],
            removal_policy=removal,
            auto_delete_objects=not retain,
        )
        keep_logical_id(self.access_logs, "FeedsAccessLogsB2AD92FB")

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
        # SBPS names a merchant's API endpoint with the contract (cdk.json context ``sbps_api_url``)
        if sbps_api_url := self.node.try_get_context("sbps_api_url"):
            function.add_environment("SBPS_API_URL", str(sbps_api_url))
        # the error types a contract's SBPS answers a reused purchase id / a customer without a kept
        # card with (re-payment): not public per contract, so context (comma-separated types)
        for context, variable in SBPS_ERROR_CONTEXT.items():
            if value := self.node.try_get_context(context):
                function.add_environment(variable, str(value))
        self.api_keys_secret.grant_read(function)

    def function(self, scope: Construct, key: str) -> lambda_.Function:
        """A function from ``resources.FUNCTIONS`` in ``scope`` (the slice that owns it), with its own
        role, log group and X-Ray tracing mode, and no grants: the slice grants what it needs."""
        spec = resources.FUNCTIONS[key]
        name = "".join(part.capitalize() for part in key.split("_"))
        log_group = logs.LogGroup(
            scope, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            scope,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"cardops {key} function",
        )
        log_group.grant_write(role)
        fn = lambda_.Function(
            scope,
            f"{name}Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            layers=[self.layer],
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            environment={**self.environment, "POWERTOOLS_SERVICE_NAME": f"cardops-{key}"},
            tracing=self._tracing(key),
            log_group=log_group,
            # advanced logging controls need the JSON format; Powertools writes JSON either way
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel(LOG_LEVEL),
            system_log_level_v2=SYSTEM_LOG_LEVEL,
            role=role,
        )
        return fn

    def _tracing(self, key: str) -> lambda_.Tracing:
        """Active for the scheduled functions and those named in ``xray_active_functions``."""
        named = str(self.node.try_get_context(ACTIVE_TRACING_CONTEXT) or "")
        extra = {name.strip() for name in named.split(",") if name.strip()}
        if unknown := extra - set(resources.FUNCTIONS):
            raise ValueError(f"{ACTIVE_TRACING_CONTEXT}: no such function {sorted(unknown)}")
        return lambda_.Tracing.ACTIVE if key in ACTIVE_TRACING | extra else lambda_.Tracing.PASS_THROUGH

    @property
    def region(self) -> str:
        return Stack.of(self).region
