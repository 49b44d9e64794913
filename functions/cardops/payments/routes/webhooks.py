"""``POST /webhooks/{provider}`` (SPEC §1 and §8 contract 1)."""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.metrics import MetricUnit

from cardops.api.errors import error_response
from cardops.kernel import clock
from cardops.kernel.config import settings
from cardops.kernel.dynamodb import StoreUnavailable
from cardops.kernel.observability import make_logger
from cardops.kernel.secrets import webhook_secrets
from cardops.payments.domain.webhook_signatures import MalformedWebhook, SignatureError
from cardops.payments.store.payments import RawEventStore
from cardops.payments.store.queue import SqsQueue
from cardops.payments.use_cases import webhook_intake

logger = make_logger("cardops-webhooks")
metrics = Metrics(namespace="cardops", service="webhooks")
# only botocore is patched: the intake makes AWS calls and nothing else, and patching every module
# X-Ray knows would import requests, sqlite3 … on each cold start (issue 13)
tracer = Tracer(service="cardops-webhooks", patch_modules=("botocore",))
app = APIGatewayRestResolver()


def _raw_body() -> bytes:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedWebhook("body is not valid base64") from exc
    return body.encode("utf-8")


@app.post("/webhooks/<provider>")
def receive(provider: str) -> Response[Any]:
    config = settings()
    result = webhook_intake.accept(
        provider,
        _raw_body(),
        lambda name: app.current_event.headers.get(name),
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


def _rejected(status: HTTPStatus, code: str, message: str) -> Response[Any]:
    metrics.add_metric(name=f"Webhook{status.value // 100}xx", unit=MetricUnit.Count, value=1)
    logger.warning("webhook rejected", status=status.value, code=code, reason=message)
    return error_response(status, code, message)


@app.exception_handler(webhook_intake.UnknownProvider)
def _unknown(exc: webhook_intake.UnknownProvider) -> Response[Any]:
    return _rejected(HTTPStatus.NOT_FOUND, "unknown_provider", str(exc))


@app.exception_handler(webhook_intake.PayloadTooLarge)
def _too_large(exc: webhook_intake.PayloadTooLarge) -> Response[Any]:
    return _rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large", str(exc))


@app.exception_handler(webhook_intake.WebhookNotConfigured)
def _not_configured(exc: webhook_intake.WebhookNotConfigured) -> Response[Any]:
    # an operator has to write the secret (README "Set the secrets"); the provider retries meanwhile
    logger.error(str(exc), provider=exc.provider)
    return _rejected(HTTPStatus.UNAUTHORIZED, "not_configured", str(exc))


@app.exception_handler(SignatureError)
def _unauthorized(exc: SignatureError) -> Response[Any]:
    return _rejected(HTTPStatus.UNAUTHORIZED, "bad_signature", str(exc))


@app.exception_handler(MalformedWebhook)
def _malformed(exc: MalformedWebhook) -> Response[Any]:
    return _rejected(HTTPStatus.BAD_REQUEST, "malformed", str(exc))


@app.exception_handler(StoreUnavailable)
def _unavailable(exc: StoreUnavailable) -> Response[Any]:
    # the only 5xx: the provider must retry, and the retry is deduplicated
    return _rejected(HTTPStatus.SERVICE_UNAVAILABLE, "store_unavailable", "could not store the event; retry")


@app.not_found
def _no_route(exc: Exception) -> Response[Any]:
    """A path no route matches (control characters in the provider name): 404, nothing echoed."""
    return _rejected(HTTPStatus.NOT_FOUND, "unknown_provider", "no such webhook route")


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response[Any]:
    status = HTTPStatus(exc.status_code)
    return _rejected(status, status.phrase.lower().replace(" ", "_"), status.phrase)


@app.exception_handler(Exception)
def _crashed(exc: Exception) -> Response[Any]:
    """Anything else is our fault, not the sender's: 503 so the provider retries (not a bare 502).

    Nothing is lost: an event is acknowledged only after it is stored and enqueued, and the retry
    is deduplicated. The Webhook5xx metric and the Lambda error log make it visible.
    """
    logger.exception("webhook intake failed", error=exc.__class__.__name__)
    return _rejected(HTTPStatus.SERVICE_UNAVAILABLE, "internal_error", "the event was not accepted; retry")
