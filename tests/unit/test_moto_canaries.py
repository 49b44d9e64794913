"""Canaries: the moto internals the sandbox patches or relies on are still what the patches expect.

moto is pinned below its next minor (pyproject); when an upgrade moves one of these, the test
that fails names the internal, so the patch is fixed before the sandbox silently stops enforcing
IAM, running handlers, or following the sandbox clock.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_moto_is_the_pinned_minor() -> None:
    import moto

    assert moto.__version__.startswith("5.2."), (
        f"moto {moto.__version__}: the sandbox's patches were written against 5.2; "
        "re-check every canary below and cardops.sandbox.moto_iam / lambda_runner / clock_wait / "
        "feed_schedule before moving the pin"
    )


def test_call_action_still_asks_determine_resource() -> None:
    from moto.core.responses import BaseResponse
    from moto.dynamodb.responses import DynamoHandler

    assert "_determine_resource" in inspect.getsource(BaseResponse.call_action), (
        "moto.core.responses.BaseResponse.call_action no longer calls _determine_resource: "
        "cardops.sandbox.moto_iam's resource patches are dead, policies would be checked against '*'"
    )
    from cardops.sandbox import atomic_dynamodb

    # atomic_dynamodb replaces DynamoHandler.call_action with a locked call of moto's own
    original = atomic_dynamodb._original_call_action
    assert "super().call_action()" in inspect.getsource(original), (
        "moto.dynamodb.responses.DynamoHandler.call_action no longer delegates to BaseResponse.call_action"
    )
    assert parameters(original) == ["self"] and callable(getattr(DynamoHandler, "call_action", None)), (
        "moto.dynamodb.responses.DynamoHandler.call_action changed: cardops.sandbox.atomic_dynamodb "
        "can no longer serialize DynamoDB requests"
    )


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("moto.dynamodb.responses", "DynamoHandler"),
        ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
        ("moto.secretsmanager.responses", "SecretsManagerResponse"),
        ("moto.stepfunctions.responses", "StepFunctionResponse"),
        ("moto.events.responses", "EventsHandler"),
        ("moto.awslambda.responses", "LambdaResponse"),
    ],
)
def test_moto_does_not_determine_these_resources_itself(module: str, name: str) -> None:
    import importlib

    from cardops.sandbox import moto_iam

    owner = importlib.import_module(module).__dict__[name]
    own = owner.__dict__.get("_determine_resource")
    patched = moto_iam.PATCHED[(owner, "_determine_resource")]
    assert own is None or own is patched, (
        f"{module}.{name} now has its own _determine_resource: compare it with cardops.sandbox.moto_iam's "
        "and drop ours if moto's resolves the same ARNs"
    )


def test_authorization_switch_is_where_moto_iam_sets_it() -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    assert hasattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT"), (
        "moto.settings.INITIAL_NO_AUTH_ACTION_COUNT is gone"
    )
    assert isinstance(ActionAuthenticatorMixin.request_count, int), (
        "moto.core.authorization.ActionAuthenticatorMixin.request_count is gone: Enforcement cannot switch"
    )
    source = inspect.getsource(ActionAuthenticatorMixin._authenticate_and_authorize_action)
    assert "settings.INITIAL_NO_AUTH_ACTION_COUNT" in source and "check_action_permitted(resource)" in source


def test_iam_request_internals_used_by_moto_iam() -> None:
    from moto.iam import access_control

    assert parameters(access_control.create_access_key) == [
        "account_id",
        "partition",
        "access_key_id",
        "headers",
    ], "moto.iam.access_control.create_access_key changed: the sandbox operator patch must follow"
    assert issubclass(access_control.CreateAccessKeyFailure, Exception)
    assert parameters(access_control.IAMRequestBase.check_action_permitted) == ["self", "resource"]
    assert parameters(access_control.IAMRequestBase.check_signature) == ["self"]
    init = inspect.getsource(access_control.IAMRequestBase.__init__)
    for attribute in ("self._access_key", "self._action", "self._body", "self._headers", "self._service"):
        assert attribute in init, f"moto.iam.access_control.IAMRequestBase no longer sets {attribute}"
    assert "AccessDeniedError" in inspect.getsource(access_control.IAMRequest._raise_access_denied)


def test_lambda_simple_backend_invoke_signature() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from cardops.sandbox import lambda_runner

    expected = ["self", "function_name", "qualifier", "body", "headers", "response_headers"]
    assert parameters(lambda_runner._original_invoke) == expected, (
        "moto.awslambda_simple.models.LambdaSimpleBackend.invoke changed its signature: "
        "cardops.sandbox.lambda_runner cannot run the handlers in-process"
    )
    assert hasattr(LambdaSimpleBackend, "invoke")


def test_timestamp_wait_internals_used_by_clock_wait() -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

    from cardops.sandbox import clock_wait

    assert parameters(clock_wait._original_eval_body) == ["self", "env"], (
        "moto's Timestamp._eval_body changed: cardops.sandbox.clock_wait must follow"
    )
    for helper in ("_from_timestamp_string", "_create_failure_event"):
        assert callable(getattr(Timestamp, helper, None)), (
            f"moto's Timestamp.{helper} is gone (clock_wait uses it)"
        )
    # the replacement re-implements Timestamp's own reading of the target time: it must still be this
    source = inspect.getsource(Timestamp._get_wait_seconds)
    assert "self.string.eval(env=env)" in source and "env.stack.pop()" in source, (
        "moto's Timestamp._get_wait_seconds reads its target differently now: "
        "update cardops.sandbox.clock_wait"
    )


def test_s3_clock_used_by_feed_schedule() -> None:
    import moto.s3.models

    assert callable(getattr(moto.s3.models, "utcnow", None)), (
        "moto.s3.models.utcnow is gone: the sandbox feed schedule can no longer stamp S3 objects with "
        "the sandbox clock (cardops.sandbox.feed_schedule)"
    )
    assert "utcnow()" in inspect.getsource(moto.s3.models.FakeKey.__init__)


def test_task_tokens_are_found_where_moto_iam_looks() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager

    pool = CallbackPoolManager(activity_store={})
    pool.add("token-1")
    assert "token-1" in pool._pool, (
        "moto's CallbackPoolManager no longer keeps callbacks in _pool: cardops.sandbox.moto_iam cannot "
        "tell which state machine a task token belongs to"
    )


def test_sandbox_server_config_keys() -> None:
    from moto.core.config import default_user_config

    assert {"lambda", "stepfunctions"} <= set(default_user_config), (
        "moto.core.config.default_user_config changed: cardops.sandbox.local configures it"
    )


def _read_after_a_cancelled_transaction(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a reader holding a shard iterator sees after a cancelled transaction and then a put."""
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    for key, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    region = "ap-northeast-1"
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=region)
        ddb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        streams = boto3.client(
            "dynamodbstreams", region_name=region, config=Config(account_id_endpoint_mode="disabled")
        )
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

        def put(pk: str, sk: str, **condition: str) -> dict[str, Any]:
            return {"Put": {"TableName": "t", "Item": {"pk": {"S": pk}, "sk": {"S": sk}}, **condition}}

        ddb.transact_write_items(TransactItems=[put("a", "#PAYMENT"), put("a", "HISTORY#1")])
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        first = streams.get_records(ShardIterator=iterator["ShardIterator"])
        assert len(first["Records"]) == 2
        with pytest.raises(ddb.exceptions.TransactionCanceledException):  # a lost version race
            ddb.transact_write_items(
                TransactItems=[
                    put("b", "#PAYMENT"),
                    put("a", "HISTORY#1", ConditionExpression="attribute_not_exists(pk)"),
                ]
            )
        ddb.put_item(TableName="t", Item={"pk": {"S": "c"}, "sk": {"S": "#PAYMENT"}})
        later = streams.get_records(ShardIterator=first["NextShardIterator"])
        return [record["dynamodb"]["Keys"]["pk"]["S"] for record in later["Records"]]


def test_moto_streams_still_serve_a_cancelled_transaction_and_lose_the_next_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bug ``cardops.sandbox.moto_streams`` fixes: when this fails, moto fixed it; drop the patch."""
    from cardops.sandbox import moto_streams

    installed = bool(moto_streams._ORIGINALS)
    moto_streams.uninstall()
    try:
        assert _read_after_a_cancelled_transaction(monkeypatch) == ["b"], (
            "moto's stream no longer replays a cancelled transaction's record: re-check moto_streams"
        )
    finally:
        if installed:
            moto_streams.install()


def test_the_sandbox_stream_holds_exactly_the_committed_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    from cardops.sandbox import moto_streams

    moto_streams.install()
    assert _read_after_a_cancelled_transaction(monkeypatch) == ["c"]


def test_stream_internals_used_by_moto_streams() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard, Table
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    from cardops.sandbox import moto_streams

    source = inspect.getsource(moto_streams._ORIGINALS.get((DynamoDBBackend, "transact_write_items"))
                               or DynamoDBBackend.transact_write_items)  # fmt: skip
    assert "copy.deepcopy" in source and "self.tables[table_name] = original_table_state" in source, (
        "moto's transaction rollback changed: re-check cardops.sandbox.moto_streams"
    )
    assert "self.items.append" in inspect.getsource(StreamShard.add)
    assert "stream_shard" in inspect.getsource(Table.__init__)
    assert "shard_iterators" in inspect.getsource(DynamoDBStreamsBackend.__init__)
    assert parameters(DynamoDBStreamsBackend.get_records) == ["self", "iterator_arn", "limit"]
    for owner, name in moto_streams.PATCHED:
        assert name == "__deepcopy__" or hasattr(owner, name), f"{owner.__name__}.{name} is gone"


def test_the_sandbox_partition_query_answers_as_moto_does() -> None:
    """cardops.sandbox.moto_query hands a table Query its partition only: same answers, pages too."""
    import boto3
    from moto import mock_aws

    from cardops.sandbox.moto_query import partition_queries

    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(60):
            client.put_item(TableName="t", Item={"pk": {"S": f"P{n % 3}"}, "sk": {"S": f"S{n:03d}"}})

        def pages(**extra: Any) -> list[list[str]]:
            kwargs: dict[str, Any] = {
                "TableName": "t",
                "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
                "ExpressionAttributeValues": {":p": {"S": "P1"}, ":a": {"S": "S010"}, ":b": {"S": "S050"}},
                "Limit": 4,
                **extra,
            }
            found = []
            while True:
                page = client.query(**kwargs)
                found.append([item["sk"]["S"] for item in page["Items"]])
                if "LastEvaluatedKey" not in page:
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        expected = [pages(), pages(ScanIndexForward=False)]
        with partition_queries():
            assert [pages(), pages(ScanIndexForward=False)] == expected
        assert expected[0][0] == ["S010", "S013", "S016", "S019"]


def test_retry_internals_used_by_clock_wait() -> None:
    """clock_wait replaces the ``time`` moto's retrier sleeps on: the retrier must still sleep so."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    source = inspect.getsource(retrier_decl)
    assert "import time" in source and "time.sleep(interval_seconds)" in source, (
        "moto's RetrierDecl no longer sleeps with time.sleep: update cardops.sandbox.clock_wait"
    )
