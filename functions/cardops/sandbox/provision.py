"""Creates, in moto, the resources the stack defines (from ``cardops.resources``).

Used by the sandbox (against the moto server over HTTP) and by the tests (in-process ``mock_aws``
or the server), so all three hold the same tables, queues, secrets, buckets and state machines.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3

from cardops import resources
from cardops.kernel.aws import Credentials
from cardops.kernel.secrets import PROVIDER_API_KEYS, WEBHOOK_SECRET_KEYS
from cardops.sandbox import atomic_dynamodb, clock_wait, iam, lambda_runner, moto_speed, moto_streams

REGION = "ap-northeast-1"


@dataclass
class Provisioned:
    prefix: str
    table_name: str
    events_queue_url: str
    dead_letter_queue_url: str
    operator_queue_url: str
    #: the janitor's fan-out queue and its dead-letter queue
    janitor_queue_url: str
    janitor_dead_letter_queue_url: str
    #: the change feed: the table's stream and the mapping's on-failure queue
    table_stream_arn: str
    changes_failure_queue_url: str
    #: the webhook verification secret (output ``ProviderSecretArn``)
    secret_arn: str
    feed_bucket: str
    evidence_bucket: str
    #: the monthly complaints reports of the support slice (output ``SupportReportsBucketName``)
    reports_bucket: str = ""
    #: the provider API keys (output ``ProviderApiKeysSecretArn``)
    api_keys_secret_arn: str = ""
    alarm_topic_arn: str = ""
    dashboard_name: str = ""
    function_names: dict[str, str] = field(default_factory=dict)
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    #: function key → credentials of its own role (``cardops.sandbox.iam``)
    credentials: dict[str, Credentials] = field(default_factory=dict)

    def outputs(self) -> dict[str, str]:
        """The stack outputs that name these resources (same keys as the deployed stack's)."""
        outputs = {
            "AwsRegion": REGION,
            "TableName": self.table_name,
            "EventsQueueUrl": self.events_queue_url,
            "DeadLetterQueueUrl": self.dead_letter_queue_url,
            "OperatorQueueUrl": self.operator_queue_url,
            "JanitorQueueUrl": self.janitor_queue_url,
            "JanitorDeadLetterQueueUrl": self.janitor_dead_letter_queue_url,
            "TableStreamArn": self.table_stream_arn,
            "ChangesFailureQueueUrl": self.changes_failure_queue_url,
            "ProviderSecretArn": self.secret_arn,
            "ProviderApiKeysSecretArn": self.api_keys_secret_arn,
            "FeedBucketName": self.feed_bucket,
            "EvidenceBucketName": self.evidence_bucket,
            "SupportReportsBucketName": self.reports_bucket,
            "AlarmTopicArn": self.alarm_topic_arn,
            "DashboardName": self.dashboard_name,
        }
        for name, arn in self.state_machine_arns.items():
            outputs[f"{name}StateMachineArn"] = arn
        for key, function_name in self.function_names.items():
            outputs[resources.function_output_key(key)] = function_name
        return outputs

    def environment(
        self, *, payjp_api_base: str, stripe_api_base: str = "", sbps_api_url: str = ""
    ) -> dict[str, str]:
        """The environment the deployed functions get, pointing at these resources."""
        env = {
            "CARDOPS_STAGE": "sandbox",
            "TABLE_NAME": self.table_name,
            "EVENTS_QUEUE_URL": self.events_queue_url,
            "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue_url,
            "OPERATOR_QUEUE_URL": self.operator_queue_url,
            "JANITOR_QUEUE_URL": self.janitor_queue_url,
            "WEBHOOK_SECRET_ID": self.secret_arn,
            "PROVIDER_API_KEYS_SECRET_ID": self.api_keys_secret_arn,
            "FEED_BUCKET_NAME": self.feed_bucket,
            "EVIDENCE_BUCKET_NAME": self.evidence_bucket,
            "SUPPORT_REPORTS_BUCKET_NAME": self.reports_bucket,
            "PAYJP_API_BASE": payjp_api_base,
        }
        if stripe_api_base:
            env["STRIPE_API_BASE"] = stripe_api_base
        if sbps_api_url:
            env["SBPS_API_URL"] = sbps_api_url
        for name, arn in self.state_machine_arns.items():
            env[f"{_snake(name).upper()}_STATE_MACHINE_ARN"] = arn
        return env


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def split_secrets(secrets: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """One flat dict (``resources.SANDBOX_SECRETS``) → (webhook verification secrets, API keys)."""
    unknown = set(secrets) - set(WEBHOOK_SECRET_KEYS) - set(PROVIDER_API_KEYS)
    if unknown:
        raise ValueError(f"unknown provider secret keys: {sorted(unknown)}")
    webhook = {k: v for k, v in secrets.items() if k in WEBHOOK_SECRET_KEYS}
    api_keys = {k: v for k, v in secrets.items() if k in PROVIDER_API_KEYS}
    return webhook, api_keys


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "placeholder.py", "# handlers run in-process through cardops.sandbox.lambda_runner\n"
        )
    return buffer.getvalue()


def _queue_with_dead_letters(sqs: Any, name: str, spec: resources.QueueSpec) -> tuple[str, str]:
    """A queue that moves a message to ``{name}-dlq`` after ``spec.max_receive_count`` receives."""
    dlq_url: str = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url: str = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(spec.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receive_count)}
            ),
        },
    )["QueueUrl"]
    return url, dlq_url


def provision(
    secrets: dict[str, str], *, prefix: str = "cardops-sandbox", session: Any = None
) -> Provisioned:
    atomic_dynamodb.install()  # conditional writes and transactions atomic, as in DynamoDB
    moto_streams.install()  # the stream has exactly the writes that happened, as in DynamoDB Streams
    moto_speed.install()  # the same answers, without moto's slowest paths (GetRecords, backend lookup)
    session = session or boto3.session.Session(region_name=REGION)
    ddb = session.client("dynamodb", region_name=REGION)
    spec = resources.TABLE
    table_name = f"{prefix}-table"
    attributes = {spec.partition_key, spec.sort_key} | {k for pair in spec.indexes.values() for k in pair}
    ddb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        KeySchema=[
            {"AttributeName": spec.partition_key, "KeyType": "HASH"},
            {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": spec.projections[name]},
            }
            for name, (pk, sk) in spec.indexes.items()
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": spec.stream_view_type},
    )
    stream_arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    ddb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
    )
    sqs = session.client("sqs", region_name=REGION)
    events_url, dlq_url = _queue_with_dead_letters(sqs, f"{prefix}-events", resources.EVENTS_QUEUE)
    janitor_url, janitor_dlq_url = _queue_with_dead_letters(sqs, f"{prefix}-janitor", resources.JANITOR_QUEUE)
    operator_url = sqs.create_queue(QueueName=f"{prefix}-operator")["QueueUrl"]
    changes_failure_url = sqs.create_queue(QueueName=f"{prefix}-changes-failures")["QueueUrl"]
    webhook_secrets, api_keys = split_secrets(secrets)
    secretsmanager = session.client("secretsmanager", region_name=REGION)
    secret_arn = secretsmanager.create_secret(
        Name=f"{prefix}/webhook-secrets", SecretString=json.dumps(webhook_secrets)
    )["ARN"]
    api_keys_secret_arn = secretsmanager.create_secret(
        Name=f"{prefix}/provider-api-keys", SecretString=json.dumps(api_keys)
    )["ARN"]
    s3 = session.client("s3", region_name=REGION)
    buckets = {}
    for kind in ("feeds", "evidence", "reports"):
        name = f"{prefix}-{kind}"
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        buckets[kind] = name
    provisioned = Provisioned(
        prefix=prefix,
        table_name=table_name,
        events_queue_url=events_url,
        dead_letter_queue_url=dlq_url,
        operator_queue_url=operator_url,
        janitor_queue_url=janitor_url,
        janitor_dead_letter_queue_url=janitor_dlq_url,
        table_stream_arn=stream_arn,
        changes_failure_queue_url=changes_failure_url,
        secret_arn=secret_arn,
        api_keys_secret_arn=api_keys_secret_arn,
        feed_bucket=buckets["feeds"],
        evidence_bucket=buckets["evidence"],
        reports_bucket=buckets["reports"],
        # the stack's alarm topic and dashboard exist here too, so the outputs have the same keys
        alarm_topic_arn=session.client("sns", region_name=REGION).create_topic(Name=f"{prefix}-alarms")[
            "TopicArn"
        ],
        dashboard_name=f"{prefix}-dashboard",
    )
    session.client("cloudwatch", region_name=REGION).put_dashboard(
        DashboardName=provisioned.dashboard_name, DashboardBody=json.dumps({"widgets": []})
    )
    _functions_and_workflows(session, provisioned)
    provisioned.credentials = iam.create_roles(session, prefix, provisioned.outputs(), REGION)
    return provisioned


def _functions_and_workflows(session: Any, provisioned: Provisioned) -> None:
    lam = session.client("lambda", region_name=REGION)
    iam = session.client("iam", region_name=REGION)
    role_arn = iam.create_role(
        RoleName=f"{provisioned.prefix}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    arns: dict[str, str] = {}
    routes: dict[str, str] = {}
    for key, spec in resources.FUNCTIONS.items():
        name = f"{provisioned.prefix}-{key}"
        arns[key] = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=spec.handler,
            Code={"ZipFile": _zip()},
            Timeout=spec.timeout_seconds,
        )["FunctionArn"]
        provisioned.function_names[key] = name
        routes[name] = spec.handler
    lambda_runner.install(routes)
    clock_wait.install()  # Timestamp waits follow the sandbox clock
    sfn = session.client("stepfunctions", region_name=REGION)
    for machine, machine_spec in resources.STATE_MACHINES.items():
        definition = machine_spec.definition_path.read_text(encoding="utf-8")
        for placeholder, function_key in machine_spec.function_substitutions.items():
            definition = definition.replace("${" + placeholder + "}", arns[function_key])
        provisioned.state_machine_arns[machine] = sfn.create_state_machine(
            name=f"{provisioned.prefix}-{machine}", definition=definition, roleArn=role_arn, type="STANDARD"
        )["stateMachineArn"]
