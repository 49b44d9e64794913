"""Canaries: the moto internals the sandbox patches or relies on are still what the patches expect.

moto is pinned below its next minor (pyproject); when an upgrade moves one of these, the test
that fails names the internal, so the patch is fixed before the sandbox silently stops enforcing
IAM, running handlers, or following the sandbox clock.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
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


def _create_table(ddb: Any, **extra: Any) -> None:
    """The table ``t`` (``pk``/``sk`` strings, on demand) in the mocked account."""
    ddb.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        **extra,
    )


def _streamed_table(ddb: Any) -> tuple[Any, str]:
    """The table ``t`` with a stream of both images: a streams client and the stream's ARN."""
    import boto3
    from botocore.config import Config

    _create_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    arn: str = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    streams = boto3.client(
        "dynamodbstreams", region_name="ap-northeast-1", config=Config(account_id_endpoint_mode="disabled")
    )
    return streams, arn


def _read_after_a_cancelled_transaction(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a reader holding a shard iterator sees after a cancelled transaction and then a put."""
    import boto3
    from moto import mock_aws

    for key, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    region = "ap-northeast-1"
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=region)
        streams, arn = _streamed_table(ddb)
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
        _create_table(client)
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


def _stream_reads() -> list[dict[str, Any]]:
    """Every GetRecords answer (parsed by botocore) of a stream with each attribute type, inserts,
    modifies and removes, read in pages of 2 and then once more when nothing is left."""
    import boto3
    from moto import mock_aws

    region = "ap-northeast-1"
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=region)
        streams, arn = _streamed_table(ddb)
        every_type: dict[str, Any] = {
            "s": {"S": "日本語 text"},
            "n": {"N": "-12.50"},
            "b": {"B": b"\x00\xffbinary"},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2.5"]},
            "bs": {"BS": [b"\x01", b"\x02"]},
            "l": {"L": [{"S": "x"}, {"N": "1"}, {"B": b"\x03"}, {"NULL": True}]},
            "m": {"M": {"k": {"BOOL": False}, "inner": {"M": {"b": {"B": b"\x04"}}}}},
            "yes": {"BOOL": True},
            "nothing": {"NULL": True},
        }
        key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
        ddb.put_item(TableName="t", Item={**key, **every_type})
        ddb.put_item(TableName="t", Item={**key, "s": {"S": "changed"}})
        ddb.put_item(TableName="t", Item={"pk": {"S": "b"}, "sk": {"S": "2"}})
        ddb.delete_item(TableName="t", Key=key)
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        answers = []
        after = iterator["ShardIterator"]
        for _ in range(3):
            answer = streams.get_records(ShardIterator=after, Limit=2)
            answer.pop("ResponseMetadata")
            after = answer["NextShardIterator"]
            # what differs by run: the stream label (the table's creation time) and the iterator's id
            answer["NextShardIterator"] = after.split("/stream/")[0]
            answers.append(answer)
        for answer in answers:
            for record in answer["Records"]:
                record.pop("eventID")  # random
                stream = record["dynamodb"]
                # a global counter and the size of the record with its time, which differ by run too;
                # the time itself is compared to the second by the caller
                assert int(stream.pop("SequenceNumber")) > 0 and stream.pop("SizeBytes") > 100
        return answers


def test_the_sandbox_get_records_answers_as_moto_does() -> None:
    """cardops.sandbox.moto_speed answers GetRecords without moto's serializer: same answers."""
    from cardops.sandbox import moto_speed

    with moto_speed.installed():
        fast = _stream_reads()
        with moto_speed.moto_as_shipped():
            shipped = _stream_reads()
    assert [len(answer["Records"]) for answer in shipped] == [2, 2, 0]
    assert [r["eventName"] for a in shipped for r in a["Records"]] == ["INSERT", "MODIFY", "INSERT", "REMOVE"]
    times = []
    for answers in (fast, shipped):  # each run writes at its own time: compared apart, to the second
        for answer in answers:
            for record in answer["Records"]:
                times.append(record["dynamodb"].pop("ApproximateCreationDateTime"))
    assert all(t.tzinfo is not None for t in times) and max(times) - min(times) < timedelta(seconds=5)
    assert all(t.microsecond % 1000 == 0 for t in times)  # milliseconds, as moto's serializer truncates
    assert fast == shipped
    assert shipped[0]["Records"][0]["dynamodb"]["NewImage"]["b"] == {"B": b"\x00\xffbinary"}


def test_internals_used_by_moto_speed() -> None:
    from moto import backends
    from moto.core.serialize import TimestampSerializer
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.moto_server import werkzeug_app

    from cardops.sandbox import moto_speed

    assert backends.list_of_moto_modules in (
        moto_speed._original_list_of_moto_modules,
        moto_speed._list_of_moto_modules,
    )
    assert "backends.list_of_moto_modules()" in inspect.getsource(werkzeug_app.DomainDispatcherApplication)
    assert "os.listdir" in inspect.getsource(moto_speed._original_list_of_moto_modules)
    assert "self.backend.get_records(arn, limit)" in inspect.getsource(DynamoDBStreamsHandler.get_records)
    assert parameters(DynamoDBStreamsBackend.get_records) == ["self", "iterator_arn", "limit"]
    assert parameters(TimestampSerializer._timestamp_unixtimestamp) == ["value"]


def _table_reads() -> list[Any]:
    """Query pages (forward, backward, projected, counted, with capacity), BatchGetItem and
    BatchWriteItem answers of items holding every attribute type, and a query's error."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        _create_table(client)
        for n in range(12):
            client.put_item(
                TableName="t",
                Item={
                    "pk": {"S": "P"},
                    "sk": {"S": f"S{n:02d}"},
                    "n": {"N": f"{n}.50"},
                    "b": {"B": bytes([n, 255])},
                    "ss": {"SS": ["a", f"x{n}"]},
                    "bs": {"BS": [b"\x01", bytes([n])]},
                    "l": {"L": [{"S": "x"}, {"B": b"\x03"}, {"NULL": True}]},
                    "m": {"M": {"k": {"BOOL": n % 2 == 0}, "inner": {"M": {"b": {"B": b"\x04"}}}}},
                },
            )
        answers: list[Any] = []
        for extra in (
            {"Limit": 5},
            {"Limit": 5, "ScanIndexForward": False},
            {"ProjectionExpression": "sk, #m.k", "ExpressionAttributeNames": {"#m": "m"}},
            {"Select": "COUNT"},
            {"ReturnConsumedCapacity": "TOTAL"},
        ):
            kwargs: dict[str, Any] = {
                "TableName": "t",
                "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
                "ExpressionAttributeValues": {":p": {"S": "P"}, ":a": {"S": "S02"}, ":b": {"S": "S10"}},
                **extra,
            }
            while True:
                page = client.query(**kwargs)
                page.pop("ResponseMetadata")
                answers.append(page)
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        keys = [{"pk": {"S": "P"}, "sk": {"S": f"S{n:02d}"}} for n in (1, 7, 99)]
        batch = client.batch_get_item(RequestItems={"t": {"Keys": keys, "ConsistentRead": True}})
        batch.pop("ResponseMetadata")
        batch["Responses"]["t"].sort(key=lambda item: item["sk"]["S"])
        answers.append(batch)
        for capacity in ("NONE", "TOTAL"):
            written = client.batch_write_item(
                RequestItems={"t": [{"PutRequest": {"Item": {"pk": {"S": "W"}, "sk": {"S": capacity}}}}]},
                ReturnConsumedCapacity=capacity,
            )
            written.pop("ResponseMetadata")
            answers.append(written)
        try:
            client.query(
                TableName="missing",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "P"}},
            )
        except client.exceptions.ResourceNotFoundException as error:
            answers.append(error.response["Error"])
        return answers


def test_the_sandbox_query_and_batch_get_answer_as_moto_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.serialize import ResponseSerializer

    from cardops.sandbox import moto_speed

    serialized: list[str] = []
    original = ResponseSerializer.serialize

    def serialize(self: ResponseSerializer, result: Any) -> Any:
        serialized.append(self.operation_name)
        return original(self, result)

    monkeypatch.setattr(ResponseSerializer, "serialize", serialize)
    with moto_speed.installed():
        fast = _table_reads()
        fast_through_moto = list(serialized)
        with moto_speed.moto_as_shipped():
            shipped = _table_reads()
    shipped_through_moto = serialized[len(fast_through_moto) :]
    # none of the answers (7 pages, a batch read, 2 batch writes) went through moto's serializer
    assert not moto_speed.FAST_DYNAMODB_ANSWERS & set(fast_through_moto)
    assert shipped_through_moto.count("Query") == 7 and shipped_through_moto.count("BatchGetItem") == 1
    assert shipped_through_moto.count("BatchWriteItem") == 2
    assert fast == shipped
    assert [len(page.get("Items", [])) for page in shipped[:4]] == [5, 4, 5, 4]  # pages of 5 of 9 items
    assert shipped[0]["Items"][0]["b"] == {"B": bytes([2, 255])}
    assert shipped[-1]["Code"] == "ResourceNotFoundException"
