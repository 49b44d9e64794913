"""IAM is enforced in moto: each function runs as its own role, built from the synthesized template.

Each denial below is a call the deployed function could not make either; each allowed call beside
it proves the denial comes from the policy, not from moto failing to read the request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cardops.kernel import aws
from cardops.sandbox import moto_iam

REGION = "ap-northeast-1"


@pytest.fixture(autouse=True)
def _keep_denials_out_of_the_report(provisioned: Any) -> Iterator[None]:
    """The denials provoked here are the point of these tests, not findings of the access report."""
    before = len(moto_iam.access_log())
    yield
    moto_iam.truncate_access_log(before)


def denied(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    code = caught.value.response["Error"]["Code"]
    assert code in ("AccessDenied", "AccessDeniedException"), caught.value
    return str(caught.value)


def test_dynamodb_action_outside_the_role_is_denied(provisioned: Any) -> None:
    key = {"pk": {"S": "PAYMENT#x"}, "sk": {"S": "META"}}
    with aws.acting_as("webhook"):
        aws.dynamodb().put_item(TableName=provisioned.table_name, Item=key)  # granted
        message = denied(lambda: aws.dynamodb().delete_item(TableName=provisioned.table_name, Key=key))
        # a duplicate's stored item comes back with its failed conditional put: no reads at all,
        # and it says whether the event awaits processing: no mark after the send
        read = denied(lambda: aws.dynamodb().get_item(TableName=provisioned.table_name, Key=key))
        update = denied(
            lambda: aws.dynamodb().update_item(
                TableName=provisioned.table_name, Key=key, UpdateExpression="SET touched = :t",
                ExpressionAttributeValues={":t": {"S": "yes"}},
            )
        )  # fmt: skip
    assert "assumed-role/cardops-test-webhook/webhook" in message
    assert "dynamodb:DeleteItem" in message and "dynamodb:GetItem" in read
    assert "dynamodb:UpdateItem" in update


def test_dynamodb_transaction_is_checked_per_operation(provisioned: Any) -> None:
    """IAM has no TransactWriteItems action: a Delete inside a transaction needs DeleteItem."""
    item = {"pk": {"S": "T#1"}, "sk": {"S": "T"}}
    with aws.acting_as("processor"):
        aws.dynamodb().transact_write_items(
            TransactItems=[{"Put": {"TableName": provisioned.table_name, "Item": item}}]
        )
        denied(
            lambda: aws.dynamodb().transact_write_items(
                TransactItems=[{"Delete": {"TableName": provisioned.table_name, "Key": item}}]
            )
        )


def test_dynamodb_index_query_needs_the_index_resource(provisioned: Any) -> None:
    query = {
        "TableName": provisioned.table_name,
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "none"}},
    }
    with aws.acting_as("admin"):
        aws.dynamodb().query(**query)
    with aws.acting_as("webhook"):
        denied(lambda: aws.dynamodb().query(**query))


def test_sqs_action_outside_the_role_is_denied(provisioned: Any) -> None:
    with aws.acting_as("webhook"):
        aws.sqs().send_message(QueueUrl=provisioned.events_queue_url, MessageBody="{}")
        denied(lambda: aws.sqs().receive_message(QueueUrl=provisioned.events_queue_url))
        denied(lambda: aws.sqs().send_message(QueueUrl=provisioned.operator_queue_url, MessageBody="{}"))


def test_the_janitor_scheduler_queries_only_the_due_index_and_sends_only_to_its_queue(
    provisioned: Any,
) -> None:
    def query(index: str) -> dict[str, Any]:
        return {
            "TableName": provisioned.table_name,
            "IndexName": index,
            "KeyConditionExpression": f"{index}pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "none"}},
        }

    payment = {"pk": {"S": "PAYMENT#payjp#ch_x"}, "sk": {"S": "#PAYMENT"}}
    batch = [{"Id": "1", "MessageBody": "{}"}]
    with aws.acting_as("janitor"):
        aws.dynamodb().query(**query("gsi2"))
        denied(lambda: aws.dynamodb().query(**query("gsi1")))
        denied(
            lambda: aws.dynamodb().update_item(
                TableName=provisioned.table_name, Key=payment, UpdateExpression="SET x = :x",
                ExpressionAttributeValues={":x": {"S": "y"}},
            )
        )  # fmt: skip
        # an SQS batch is authorized as sqs:SendMessage, as in AWS (IAM has no batch action)
        aws.sqs().send_message_batch(QueueUrl=provisioned.janitor_queue_url, Entries=batch)
        denied(lambda: aws.sqs().send_message_batch(QueueUrl=provisioned.events_queue_url, Entries=batch))
    with aws.acting_as("janitor_worker"):
        aws.dynamodb().update_item(
            TableName=provisioned.table_name, Key=payment, UpdateExpression="SET x = :x",
            ExpressionAttributeValues={":x": {"S": "y"}},
        )  # fmt: skip
        denied(lambda: aws.sqs().send_message(QueueUrl=provisioned.janitor_queue_url, MessageBody="{}"))


def test_secrets_manager_read_outside_the_role_is_denied(provisioned: Any) -> None:
    with aws.acting_as("webhook"):
        aws.client("secretsmanager").get_secret_value(SecretId=provisioned.secret_arn)
    with aws.acting_as("feed_sync"):
        denied(lambda: aws.client("secretsmanager").get_secret_value(SecretId=provisioned.secret_arn))


def test_s3_action_outside_the_role_is_denied(provisioned: Any) -> None:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=provisioned.feed_bucket, Key="feeds/a.csv", Body=b"x"
    )
    with aws.acting_as("feed_sync"):
        aws.s3().get_object(Bucket=provisioned.feed_bucket, Key="feeds/a.csv")
        denied(lambda: aws.s3().put_object(Bucket=provisioned.feed_bucket, Key="feeds/b.csv", Body=b"x"))
    with aws.acting_as("webhook"):
        denied(lambda: aws.s3().get_object(Bucket=provisioned.feed_bucket, Key="feeds/a.csv"))


def test_step_functions_action_outside_the_role_is_denied(provisioned: Any) -> None:
    machine = provisioned.state_machine_arns["CaptureDeadline"]
    with aws.acting_as("webhook"):
        denied(lambda: aws.stepfunctions().start_execution(stateMachineArn=machine, input="{}"))
    with aws.acting_as("processor"):
        denied(
            lambda: aws.stepfunctions().start_execution(
                stateMachineArn=provisioned.state_machine_arns["Repayment"], input="{}"
            )
        )


def test_events_and_lambda_outside_the_role_are_denied(provisioned: Any) -> None:
    entry = {"Source": "cardops.test", "DetailType": "t", "Detail": "{}", "EventBusName": "default"}
    with aws.acting_as("capture_deadline"):
        aws.client("events").put_events(Entries=[entry])
    with aws.acting_as("webhook"):
        denied(lambda: aws.client("events").put_events(Entries=[entry]))
    with aws.acting_as("admin"):
        denied(
            lambda: aws.client("lambda").invoke(
                FunctionName=provisioned.function_names["feed_sync"], InvocationType="Event", Payload=b"{}"
            )
        )


def test_unknown_role_session_is_not_the_operator(provisioned: Any) -> None:
    """Only credentials without a session token are the sandbox operator; a forged session is refused."""
    forged = boto3.client(
        "sqs",
        region_name=REGION,
        aws_access_key_id="ASIAFORGED",
        aws_secret_access_key="x",
        aws_session_token="t",
    )
    with pytest.raises(ClientError, match="InvalidClientTokenId"):
        forged.list_queues()


def test_a_function_without_installed_credentials_fails_loudly(provisioned: Any) -> None:
    with aws.acting_as("no-such-function"), pytest.raises(aws.UnknownIdentity):
        aws.dynamodb()


def test_webhook_cannot_read_provider_api_keys(provisioned: Any) -> None:
    """Whatever the secrets are called: none the webhook can read holds a provider API key."""
    operator = boto3.client("secretsmanager", region_name=REGION)
    api_keys = {"payjp_secret_key", "stripe_secret_key"}
    holding_keys = [
        s["ARN"]
        for s in operator.list_secrets()["SecretList"]
        if api_keys & set(json.loads(operator.get_secret_value(SecretId=s["ARN"])["SecretString"]))
    ]
    assert holding_keys
    with aws.acting_as("webhook"):
        aws.client("secretsmanager").get_secret_value(SecretId=provisioned.secret_arn)  # its own secret
        for arn in holding_keys:
            denied(lambda arn=arn: aws.client("secretsmanager").get_secret_value(SecretId=arn))


def test_only_the_feed_sync_writes_in_batches(provisioned: Any) -> None:
    """BatchWriteItem is granted to the feed-sync function alone (it stores 100k-line files)."""
    request = {provisioned.table_name: [{"PutRequest": {"Item": {"pk": {"S": "B#1"}, "sk": {"S": "B"}}}}]}
    with aws.acting_as("feed_sync"):
        aws.dynamodb().batch_write_item(RequestItems=request)
    for function in ("admin", "processor", "webhook"):
        with aws.acting_as(function):
            assert "dynamodb:BatchWriteItem" in denied(
                lambda: aws.dynamodb().batch_write_item(RequestItems=request)
            )
