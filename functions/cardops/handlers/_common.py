"""What every Lambda entry point is wrapped in, written once.

``entry_point``: the Powertools decorators in their one order — the Lambda context on every log line
(state cleared between invocations), an X-Ray segment, and the metrics flushed when the handler
returns. ``batch_entry_point``: an SQS or DynamoDB-stream handler that runs ``record_handler`` per
record and reports only the failed records back (partial batch failure), so one bad record does not
make the source deliver the whole batch again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import EventType

#: an entry point, called (event, context): by Lambda with its context, by the sandbox and the tests
#: with theirs (``sandbox.lambda_runner.FakeContext``), as Powertools' decorators allow
Handler = Callable[..., dict[str, Any]]


def entry_point(
    logger: Logger, tracer: Tracer, metrics: Metrics | None = None, *, correlation_id_path: str | None = None
) -> Callable[[Handler], Handler]:
    """Decorate a handler with ``logger``'s context, ``tracer``'s segment and ``metrics``' flush."""

    def wrap(handler: Handler) -> Handler:
        wrapped = handler if metrics is None else metrics.log_metrics(handler)
        wrapped = tracer.capture_lambda_handler(wrapped)
        decorated: Handler = logger.inject_lambda_context(
            wrapped, correlation_id_path=correlation_id_path, clear_state=True
        )
        return decorated

    return wrap


def batch_entry_point(
    event_type: EventType,
    record_handler: Callable[[Any], None],
    *,
    logger: Logger,
    tracer: Tracer,
    metrics: Metrics,
) -> Handler:
    """A handler of ``event_type`` batches: each record to ``record_handler``; a record whose handler
    raises is reported as a batch item failure (and retried by the source), the others succeed."""
    # imported here: the API functions import this module and never process batches
    from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response

    processor = BatchProcessor(event_type=event_type)

    @entry_point(logger, tracer, metrics)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler
