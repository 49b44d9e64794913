"""``POST /webhooks/{provider}`` (SPEC §1 and §8 contract 1).

The route only; the webhook resolver that serves it, with its error table and the counting of
refusals, is assembled in the shell (``cardops.api.webhooks``)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from cardops.kernel import clock
from cardops.kernel.config import settings
from cardops.kernel.observability import make_logger
from cardops.kernel.secrets import webhook_secrets
from cardops.payments.domain.webhook_signatures import MalformedWebhook
from cardops.payments.store.payments import RawEventStore
from cardops.payments.store.queue import SqsQueue
from cardops.payments.use_cases import webhook_intake

logger = make_logger("cardops-webhooks")
metrics = Metrics(namespace="cardops", service="webhooks")
# only botocore is patched: the intake makes AWS calls and nothing else, and patching every module
# X-Ray knows would import requests, sqlite3 … on each cold start (issue 13)
tracer = Tracer(service="cardops-webhooks", patch_modules=("botocore",))
router = Router()  # type: ignore[no-untyped-call]


def _raw_body() -> bytes:
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedWebhook("body is not valid base64") from exc
    return body.encode("utf-8")


@router.post("/webhooks/<provider>")
def receive(provider: str) -> Response[Any]:
    config = settings()
    result = webhook_intake.accept(
        provider,
        _raw_body(),
        lambda name: router.current_event.headers.get(name),
        secrets=webhook_secrets,
        raw_events=RawEventStore(),
        queue=SqsQueue(config.events_queue_url),
        now=clock.now(),
        max_bytes=config.max_webhook_bytes,
        stripe_tolerance=config.stripe_tolerance_seconds,
        ttl_days=config.raw_event_ttl_days,
    )
    metrics.add_metric(
        name="WebhookDuplicate" if result.duplicate else "WebhookAccepted", unit=MetricUnit.Count, value=1
    )
    logger.info("webhook accepted", provider=provider, event_id=result.event_id, duplicate=result.duplicate)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body={"received": True, "duplicate": result.duplicate},
    )
