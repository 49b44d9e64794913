"""Lambda entry point: SQS → payment event processing, with partial batch failures.

A message that fails transiently is reported back to SQS alone and retried; after the queue's
``maxReceiveCount`` it lands in the dead-letter queue. Nothing is dropped silently.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardops import clock
from cardops.adapters.dynamodb import PaymentRepository, RawEventStore
from cardops.adapters.providers.payjp import PayjpClient
from cardops.adapters.secrets import provider_secrets
from cardops.config import settings
from cardops.observability import make_logger
from cardops.services import payment_events
from cardops.services.workflows import payment_listeners

logger = make_logger("cardops-processor")
tracer = Tracer(service="cardops-processor")
metrics = Metrics(namespace="cardops", service="processor")
processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def payjp_client() -> PayjpClient:
    return PayjpClient(
        api_base=settings().payjp_api_base,
        secret_key=lambda: provider_secrets().payjp_secret_key.get_secret_value(),
    )


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    # each record's log lines carry its SQS message id, and the webhook event id once it is known
    logger.set_correlation_id(record.message_id)
    message: dict[str, Any] = json.loads(record.body)
    if isinstance(message, dict):
        logger.append_keys(event_id=message.get("event_id"), provider=message.get("provider"))
    raw_events = RawEventStore()
    outcome = payment_events.process_message(
        message,
        read_body=lambda provider, event_id: raw_events.get_body(provider=provider, event_id=event_id),
        payments=PaymentRepository(),
        payjp_fetcher=payjp_client(),
        now=clock.now(),
        listeners=payment_listeners(),
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


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=record_handler, processor=processor, context=context
    )
