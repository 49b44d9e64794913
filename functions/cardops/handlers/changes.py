"""Lambda entry point: the table's stream (payment items only) → the payment change listeners.

The event source mapping (``resources.CHANGE_FEED``) filters the stream to payment items, retries
a failing batch a bounded number of times, bisects it on a function error, and sends what still
fails (or grew too old) to the on-failure queue, which is alarmed. Each record is one ``Change``;
a record whose listeners fail is reported alone (partial batch failure): the mapping delivers it
again, with the records after it, and every listener of it runs again (they are idempotent).
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from cardops.handlers._common import batch_entry_point
from cardops.kernel.observability import make_logger
from cardops.payments.store.changes import change_of
from cardops.payments.use_cases.listeners import ListenersFailed, run_listeners
from cardops.payments.wiring import payment_listeners

logger = make_logger("cardops-changes")
tracer = Tracer(service="cardops-changes")
metrics = Metrics(namespace="cardops", service="changes")


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    change = change_of(record.raw_event)
    payment = change.new
    logger.append_keys(provider=payment.provider, payment_id=payment.provider_payment_id)
    try:
        run_listeners(change, payment_listeners())
    except ListenersFailed as exc:
        logger.error(
            "payment change listeners failed; the change is delivered again",
            version=payment.version,
            failed=sorted(exc.failures),
            reason=str(exc),
        )
        metrics.add_metric(name="ChangeFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="ChangeDelivered", unit=MetricUnit.Count, value=1)


handler = batch_entry_point(
    EventType.DynamoDBStreams, record_handler, logger=logger, tracer=tracer, metrics=metrics
)
