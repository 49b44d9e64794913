"""Feeds the table's stream to its function, as a Lambda event source mapping does in AWS.

The mapping is the one the stack deploys (``resources.CHANGE_FEED``): its filter patterns (applied
with moto's own EventBridge pattern matcher, as Lambda applies filter criteria: a record that does
not match is dropped and the checkpoint moves past it), batch size, bounded retries, bisect on a
function error, maximum record age, partial batch failures, and the on-failure destination (an SQS
queue that gets the batch's description, not its records, as in AWS). The handler runs as its
function's role with the event shape DynamoDB Streams delivers to Lambda.

Records of one shard are delivered in order: a batch that fails blocks the ones after it until it
succeeds or is discarded, which is what keeps a payment's changes in their order in AWS too.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.parsers import ResponseParserFactory

from cardops.resources import StreamMappingSpec

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]
REGION = "ap-northeast-1"
#: Records one GetRecords asks for (its maximum), then delivered ``batch_size`` at a time as before:
#: reading 100 a call, the sandbox spent two requests (an iterator, the records) per 100 writes of
#: any kind, 5,700 requests while a 100k-line feed sync wrote (profiled), all in the sync's process.
READ_LIMIT = 1000


def _plain(value: Any) -> Any:
    """boto3's answer → the JSON Lambda receives (binary attributes are base64, as on the wire)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record in the shape of a Lambda DynamoDB Streams event's record."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
        stream = _plain(stream)
    elif isinstance(created, int | float):  # the wire's JSON (``RawRecordsParsers``): plain already
        stream["ApproximateCreationDateTime"] = int(created)
    else:
        stream = _plain(stream)
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


class StreamPoller:
    """One shard's reader (moto's streams have one shard): ``drain`` delivers all that is there."""

    def __init__(
        self,
        *,
        mapping: StreamMappingSpec,
        stream_arn: str,
        handler: Handler,
        streams: Any,
        sqs: Any,
        failure_queue_url: str,
        function_arn: str = "",
        now: Callable[[], float] = time.time,
    ) -> None:
        from moto.events.models import EventPattern

        self.mapping = mapping
        self.stream_arn = stream_arn
        self._handler = handler
        self._streams = streams
        self._sqs = sqs
        self._failure_queue_url = failure_queue_url
        self._function_arn = function_arn
        self._now = now
        self._patterns = [EventPattern.load(json.dumps(p)) for p in mapping.filter_patterns]
        self._lock = threading.RLock()
        self._shard_id: str | None = None
        self._after: str | None = None
        #: what happened to records, for tests and the sandbox log: delivered / filtered / discarded
        self.delivered = 0
        self.filtered = 0
        self.discarded = 0
        self.invocations = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)

    # -- reading the shard ----------------------------------------------------------------------

    def _iterator(self) -> str:
        if self._shard_id is None:
            shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
            self._shard_id = shards[0]["ShardId"]
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": self._shard_id}
        if self._after is None:
            kwargs["ShardIteratorType"] = self.mapping.starting_position
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self._after)
        iterator: str = self._streams.get_shard_iterator(**kwargs)["ShardIterator"]
        return iterator

    def _read(self) -> list[dict[str, Any]]:
        """The records after the checkpoint, up to ``READ_LIMIT`` (the checkpoint does not move)."""
        answer = self._streams.get_records(ShardIterator=self._iterator(), Limit=READ_LIMIT)
        return [lambda_record(r, self.stream_arn) for r in answer.get("Records", [])]

    def _windows(self, records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """What was read, ``batch_size`` records at a time: the records one batch is filtered from."""
        size = self.mapping.batch_size
        for start in range(0, len(records), size):
            yield records[start : start + size]

    def matches(self, record: dict[str, Any]) -> bool:
        """The mapping's filter criteria: any pattern matching lets the record through."""
        event: Any = record  # moto types it as an EventBridge event; the matcher takes any JSON object
        return not self._patterns or any(p.matches_event(event) for p in self._patterns)

    # -- delivering -----------------------------------------------------------------------------

    def drain(self) -> int:
        """Deliver every record now in the stream (retries included); the records delivered."""
        with self._lock:
            before = self.delivered
            while True:
                read = self._read()
                invocations = self.invocations
                for records in self._windows(read):
                    batch = [r for r in records if self.matches(r)]
                    self.filtered += len(records) - len(batch)
                    if batch:
                        self._deliver(batch, retries_left=self.mapping.retry_attempts)
                    self._after = _sequence(records[-1])
                if len(read) < READ_LIMIT and self.invocations == invocations:
                    # all there was when it read, and no function ran since to write more: the
                    # records written meanwhile are the next poll's (while a bulk write runs, the
                    # background reader then polls about 5 times a second, as Lambda polls a shard)
                    return self.delivered - before

    def skip(self) -> int:
        """Move the checkpoint past every record now in the stream without delivering any: the
        changes a failing feed set aside (tests of what the reconciliation repairs); the records."""
        with self._lock:
            skipped = 0
            while records := self._read():
                skipped += len(records)
                self._after = _sequence(records[-1])
            return skipped

    def _deliver(self, batch: list[dict[str, Any]], *, retries_left: int) -> None:
        """One batch until it succeeds or is discarded to the on-failure destination."""
        attempts = 0
        while batch:
            too_old = self._expired(batch)
            if too_old:
                self._discard(too_old, "RecordAgeExceeded", attempts)
                batch = batch[len(too_old) :]
                continue
            attempts += 1
            failed_from = self._invoke(batch)
            if failed_from is None:
                self.delivered += len(batch)
                return
            self.delivered += failed_from
            batch = batch[failed_from:]
            if retries_left <= 0:
                self._discard(batch, "RetryAttemptsExhausted", attempts)
                return
            retries_left -= 1
            if self.mapping.bisect_on_error and len(batch) > 1:
                # a function error, or a partial failure (the batch is split from the failed record):
                # the halves are retried on their own, so a poisoned change holds back only its half
                half = len(batch) // 2
                self._deliver(batch[:half], retries_left=retries_left)
                self._deliver(batch[half:], retries_left=retries_left)
                return

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """The index of the first record to retry (0 when the function failed), or None."""
        self.invocations += 1
        try:
            answer = self._handler({"Records": batch}) or {}
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # the function crashed (or was killed): Lambda reports a function error
            return 0
        failures = {str(f.get("itemIdentifier")) for f in answer.get("batchItemFailures", [])}
        if not failures:
            return None
        for index, record in enumerate(batch):
            if _sequence(record) in failures:
                return index
        return 0  # an identifier that names no record: AWS retries the whole batch

    def _expired(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit = self.mapping.max_record_age_seconds
        if limit < 0:
            return []
        oldest_allowed = self._now() - limit
        expired = []
        for record in batch:
            if float(record["dynamodb"].get("ApproximateCreationDateTime", self._now())) >= oldest_allowed:
                break
            expired.append(record)
        return expired

    def _discard(self, records: list[dict[str, Any]], condition: str, attempts: int) -> None:
        """What AWS sends the on-failure destination: where the batch was, not what it held."""
        self.discarded += len(records)
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]

        def arrival(stream: dict[str, Any]) -> str:
            seconds = float(stream.get("ApproximateCreationDateTime", self._now()))
            return datetime.fromtimestamp(seconds, UTC).isoformat()

        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": self._shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self._failure_queue_url, MessageBody=json.dumps(message))

    # -- the sandbox's background reader --------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivered = self.drain()
            except Exception:
                delivered = 0
            if not delivered:
                self._stop.wait(0.2)


class RawRecordsParsers(ResponseParserFactory):
    """botocore's parsers, but a GetRecords answer is left as the wire's JSON.

    Lambda hands the function the stream's JSON (binary as base64, times as epoch seconds);
    botocore's parser decodes every attribute of every image by its shape and ``lambda_record``
    then encoded it back: 14 s of CPU for the 200k records of a 100k-line feed sync (profiled),
    in the process the sync runs in. Errors and every other answer are parsed as usual.
    """

    def create_parser(self, protocol_name: str) -> Any:
        return _RawRecords(super().create_parser(protocol_name))


class _RawRecords:
    def __init__(self, parser: Any) -> None:
        self._parser = parser

    def parse(self, response: dict[str, Any], shape: Any) -> Any:
        if shape is None or shape.name != "GetRecordsOutput" or response["status_code"] != 200:
            return self._parser.parse(response, shape)
        parsed: dict[str, Any] = json.loads(response["body"])
        headers = response["headers"]
        parsed["ResponseMetadata"] = {
            "RequestId": headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": response["status_code"],
            "HTTPHeaders": {key.lower(): value for key, value in headers.items()},
            "RetryAttempts": 0,
        }
        return parsed


def change_feed(provisioned: Any) -> StreamPoller:
    """The stack's change feed over the provisioned table (``resources.CHANGE_FEED``).

    It reads the stream and sends to the on-failure queue as the function's role, as the Lambda
    service does with the execution role, and runs the handler as that role too.
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    from cardops import resources
    from cardops.sandbox.lambda_runner import invoke_handler

    mapping = resources.CHANGE_FEED
    spec = resources.FUNCTIONS[mapping.function]
    keys = provisioned.credentials.get(mapping.function)
    core = botocore.session.Session()
    core.register_component("response_parser_factory", RawRecordsParsers())
    session = (
        boto3.session.Session(
            aws_access_key_id=keys.access_key_id,
            aws_secret_access_key=keys.secret_access_key,
            aws_session_token=keys.session_token,
            region_name=REGION,
            botocore_session=core,
        )
        if keys is not None
        else boto3.session.Session(region_name=REGION, botocore_session=core)
    )
    name = provisioned.function_names[mapping.function]

    def handle(event: dict[str, Any]) -> dict[str, Any] | None:
        answer: dict[str, Any] | None = invoke_handler(spec.handler, event, name)
        return answer

    return StreamPoller(
        mapping=mapping,
        stream_arn=provisioned.table_stream_arn,
        handler=handle,
        # moto answers streams on the classic endpoint, not the account-based one
        streams=session.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")),
        sqs=session.client("sqs"),
        failure_queue_url=provisioned.changes_failure_queue_url,
        function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
    )
