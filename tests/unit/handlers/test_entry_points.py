"""The one wrapping of every Lambda entry point (``handlers/_common.py``): context on each log line,
state cleared between invocations, metrics flushed, and batch records failing one by one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cardops.handlers._common import batch_entry_point, entry_point
from cardops.kernel.observability import make_logger
from cardops.sandbox.lambda_runner import FakeContext
from tests.helpers import sqs_event


def test_log_lines_carry_the_request_and_no_keys_of_an_earlier_invocation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = make_logger("cardops-entry-test")
    tracer = Tracer(service="cardops-entry-test", disabled=True)

    @entry_point(logger, tracer)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if "payment" in event:
            logger.append_keys(payment_id=event["payment"])
        logger.warning("step")
        return {"ok": True}

    assert handler({"payment": "pay_1"}, FakeContext("entry-test", aws_request_id="r-1")) == {"ok": True}
    handler({}, FakeContext("entry-test", aws_request_id="r-2"))
    # as written at the time (the formatter's keys change with the invocation)
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["function_request_id"], second["function_request_id"]) == ("r-1", "r-2")
    assert first["payment_id"] == "pay_1" and "payment_id" not in second


def test_log_lines_leave_out_what_the_log_group_already_says(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function's name, memory and ARN are the log group's and the template's (issue 13: log
    bytes); the request id, cold start, trace id, service and location stay."""
    # its own service: a Logger of a name already made writes to the stream of the first one made
    logger = make_logger("cardops-entry-keys")

    @entry_point(logger, Tracer(service="cardops-entry-keys", disabled=True))
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.warning("step")
        return {}

    context = FakeContext("entry-test", invoked_function_arn="arn:aws:lambda:ap-northeast-1:1:function:x")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    handler({}, context)
    handler({}, context)  # a warm invocation: Powertools appends the context again
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        record = json.loads(line)
        assert not {"function_name", "function_memory_size", "function_arn"} & record.keys(), record
        assert record["function_request_id"] == context.aws_request_id
        assert record["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
        assert {"cold_start", "level", "message", "timestamp", "service", "location"} <= record.keys()


def test_metrics_are_flushed_when_the_handler_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = Metrics(namespace="cardops", service="entry-test")
    flushed: list[int] = []
    monkeypatch.setattr(metrics.provider, "flush_metrics", lambda **kwargs: flushed.append(1))

    @entry_point(make_logger("cardops-entry-test"), Tracer(disabled=True), metrics)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="Done", unit=MetricUnit.Count, value=1)
        return {}

    handler({}, FakeContext(function_name="entry-test"))
    assert flushed == [1]


def test_a_failing_record_alone_is_reported_back() -> None:
    handled: list[str] = []

    def record_handler(record: SQSRecord) -> None:
        if json.loads(record.body)["bad"]:
            raise ValueError("bad record")
        handled.append(record.message_id)

    handler = batch_entry_point(
        EventType.SQS,
        record_handler,
        logger=make_logger("cardops-entry-test"),
        tracer=Tracer(disabled=True),
        metrics=Metrics(namespace="cardops", service="entry-test"),
    )
    good, bad = sqs_event({"bad": False}, "m-good"), sqs_event({"bad": True}, "m-bad")
    event = {"Records": good["Records"] + bad["Records"]}
    assert handler(event, FakeContext(function_name="entry-test")) == {
        "batchItemFailures": [{"itemIdentifier": "m-bad"}]
    }
    assert handled == ["m-good"]
