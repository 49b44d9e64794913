"""``POST /webhooks/{provider}`` (SPEC §1 and §8 contract 1) on API Gateway's REST proxy event.

One route, so no Powertools event handler (issue 13: it was a fifth of the function's cold start):
the route reads the proxy event itself — method, path, headers (case-insensitively), body — as
Powertools' ``APIGatewayRestResolver`` did, and every error it raises is answered from the webhook
table of ``api/errors.py`` in the same shape. Nothing on this path imports pydantic: settings,
secrets, the raw-event store and the providers' verification are the lean ones.
"""

from __future__ import annotations

import base64
import binascii
import re
from http import HTTPStatus

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cardops.api import errors
from cardops.kernel import clock
from cardops.kernel.config import lean_settings
from cardops.kernel.observability import make_logger
from cardops.kernel.webhook_secrets import webhook_secrets
from cardops.payments.domain.webhook_signatures import MalformedWebhook
from cardops.payments.store.queue import SqsQueue
from cardops.payments.store.raw_events import RawEventStore
from cardops.payments.use_cases import webhook_intake

logger = make_logger("cardops-webhooks")
metrics = Metrics(namespace="cardops", service="webhooks")
# only botocore is patched: the intake makes AWS calls and nothing else, and patching every module
# X-Ray knows would import requests, sqlite3 … on each cold start (issue 13)
tracer = Tracer(service="cardops-webhooks", patch_modules=("botocore",))

#: the route's path, with the characters Powertools' REST resolver allowed in a path parameter
ROUTE = re.compile(r"^/webhooks/(?P<provider>[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+)/*$")


def _provider(event: errors.ProxyEvent) -> str:
    matched = ROUTE.match(event.get("path") or "")
    if matched is None or str(event.get("httpMethod", "")).upper() != "POST":
        raise webhook_intake.NoSuchRoute()
    return matched["provider"]


def _raw_body(event: errors.ProxyEvent) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedWebhook("body is not valid base64") from exc
    return str(body).encode("utf-8")


def _receive(event: errors.ProxyEvent) -> errors.ProxyResponse:
    provider = _provider(event)
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    config = lean_settings()
    result = webhook_intake.accept(
        provider,
        _raw_body(event),
        lambda name: headers.get(name.lower()),
        secrets=webhook_secrets,
        raw_events=RawEventStore(),
        queue=SqsQueue(config.events_queue_url),
        now=clock.now(),
        max_bytes=config.max_webhook_bytes,
        ttl_days=config.raw_event_ttl_days,
    )
    metrics.add_metric(
        name="WebhookDuplicate" if result.duplicate else "WebhookAccepted", unit=MetricUnit.Count, value=1
    )
    logger.info("webhook accepted", provider=provider, event_id=result.event_id, duplicate=result.duplicate)
    return errors.proxy_response(HTTPStatus.OK, {"received": True, "duplicate": result.duplicate})


def _observe(exc: Exception, answer: errors.ErrorAnswer) -> None:
    """Every refusal is counted by its class (Webhook4xx/5xx) and logged; a defect with its trace."""
    if answer.defect:
        logger.exception("webhook intake failed", error=exc.__class__.__name__)
    elif isinstance(exc, webhook_intake.WebhookNotConfigured):
        # an operator has to write the secret (README "Set the secrets"); the provider retries meanwhile
        logger.error(str(exc), provider=exc.provider)
    metrics.add_metric(name=f"Webhook{answer.status.value // 100}xx", unit=MetricUnit.Count, value=1)
    logger.warning("webhook rejected", status=answer.status.value, code=answer.code, reason=answer.message)


TABLE = errors.ErrorTable(errors.webhook_rules(), _observe)
#: the route as the function runs it: a proxy event in, a proxy answer out, never an exception
receive = TABLE.proxy(_receive)
