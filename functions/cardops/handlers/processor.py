"""Lambda entry point: SQS → payment event processing, with partial batch failures.

A message that fails is reported back to SQS alone and retried; after the queue's
``maxReceiveCount`` it lands in the dead-letter queue. Nothing is dropped silently: every failure is
logged at ERROR with provider, event id and reason, and recorded on the stored event (attempts,
first/last failure, reason, parked), which ``cardops events dlq`` shows beside the parked message.

An authentic event that can never succeed as it is (``payment_events.is_permanent``: its body
fails the provider's event schema) is not retried into the DLQ: it is parked on the stored event
with the reason (``cardops events parked``), logged at ERROR, counted (``EventParked``), and
acknowledged. If it cannot be parked (no stored event, or the store fails) it is retried as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardops import resources
from cardops.kernel import clock
from cardops.kernel.observability import make_logger
from cardops.payments.store.payments import PaymentRepository, RawEventStore
from cardops.payments.use_cases import payment_events
from cardops.payments.use_cases.providers import provider_client

logger = make_logger("cardops-processor")
tracer = Tracer(service="cardops-processor")
metrics = Metrics(namespace="cardops", service="processor")
processor = BatchProcessor(event_type=EventType.SQS)


def _message(record: SQSRecord) -> dict[str, Any]:
    try:
        message = json.loads(record.body)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        logger.error("queue message is not a webhook reference", message_id=record.message_id)
        metrics.add_metric(name="EventFailed", unit=MetricUnit.Count, value=1)
        raise ValueError(f"message {record.message_id} is not a JSON object")
    return message


def _attempt(record: SQSRecord) -> int:
    try:
        return int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    except (TypeError, ValueError):
        return 1


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    # each record's log lines carry its SQS message id, and the webhook event id once it is known
    logger.set_correlation_id(record.message_id)
    message = _message(record)
    provider, event_id = str(message.get("provider")), str(message.get("event_id"))
    logger.append_keys(event_id=event_id, provider=provider)
    raw_events = RawEventStore()
    try:
        outcome = payment_events.process_message(
            message,
            read_body=lambda provider, event_id: raw_events.get_body(provider=provider, event_id=event_id),
            payments=PaymentRepository(),
            providers=provider_client,
            now=clock.now(),
        )
    except Exception as exc:
        if payment_events.is_permanent(exc) and _parked(raw_events, provider, event_id, exc):
            return  # acknowledged: SQS deletes it, the stored event keeps it listed and re-processable
        _failed(raw_events, provider, event_id, exc, attempt=_attempt(record))
        raise
    _record(
        lambda: raw_events.record_outcome(
            provider=provider, event_id=event_id, outcome=outcome.describe(), at=clock.now()
        )
    )
    if outcome.ignored_reason:
        logger.info("event ignored", event_id=outcome.event_id, reason=outcome.ignored_reason)
        metrics.add_metric(name="EventIgnored", unit=MetricUnit.Count, value=1)
    elif outcome.applied is None:
        metrics.add_metric(name="EventNoChange", unit=MetricUnit.Count, value=1)
    else:
        payment = outcome.applied.payment
        logger.info(
            "payment changed",
            provider=payment.provider,
            payment_id=payment.provider_payment_id,
            status=payment.status.value,
            version=payment.version,
        )
        metrics.add_metric(name="PaymentChanged", unit=MetricUnit.Count, value=1)


def _failed(
    raw_events: payment_events.ProcessingLog, provider: str, event_id: str, exc: Exception, *, attempt: int
) -> None:
    """Loud: an ERROR line naming the event and the reason, a metric, and the reason on the event."""
    reason = payment_events.describe_failure(exc)
    max_attempts = resources.EVENTS_QUEUE.max_receive_count
    parked = attempt >= max_attempts
    logger.error(
        "event processing failed",
        provider=provider,
        event_id=event_id,
        reason=reason,
        attempt=attempt,
        max_attempts=max_attempts,
        parked=parked,
        exc_info=exc,
    )
    metrics.add_metric(name="EventFailed", unit=MetricUnit.Count, value=1)
    _record(
        lambda: raw_events.record_failure(
            provider=provider, event_id=event_id, reason=reason, at=clock.now(), parked=parked
        )
    )


def _parked(raw_events: payment_events.ProcessingLog, provider: str, event_id: str, exc: Exception) -> bool:
    """Park a permanently failing event; False (so the queue retries it) when it could not be parked."""
    reason = payment_events.describe_permanent(exc)
    try:
        parked = raw_events.park(provider=provider, event_id=event_id, reason=reason, at=clock.now())
    except Exception as error:  # the store failed: retrying is safe, acknowledging would lose it
        logger.warning("could not park the event; it is retried", error=error.__class__.__name__)
        return False
    if parked:
        logger.error(
            "event parked: it can never be processed as it is",
            provider=provider,
            event_id=event_id,
            reason=reason,
            permanent=True,
        )  # no traceback: a schema error can quote the body
        metrics.add_metric(name="EventParked", unit=MetricUnit.Count, value=1)
    return parked


def _record(write: Callable[[], None]) -> None:
    """Recording what happened must never turn a processed event into a failed one."""
    try:
        write()
    except Exception as exc:  # best effort, and said so in the log
        logger.warning("could not record the processing outcome", error=exc.__class__.__name__)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=record_handler, processor=processor, context=context
    )
