"""The webhook resolver: the payments slice's webhook route, its error table (``errors.webhook_rules``)
and the counting of every refusal, assembled here in the shell as the admin resolver is in
``api/admin.py``."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit

from cardops.api import errors
from cardops.payments.routes import webhooks
from cardops.payments.routes.webhooks import logger, metrics, tracer
from cardops.payments.use_cases.webhook_intake import WebhookNotConfigured

__all__ = ["app", "logger", "metrics", "tracer"]

app = APIGatewayRestResolver()
app.include_router(webhooks.router)


def _observe(exc: Exception, answer: errors.ErrorAnswer) -> None:
    """Every refusal is counted by its class (Webhook4xx/5xx) and logged; a defect with its trace."""
    if answer.defect:
        logger.exception("webhook intake failed", error=exc.__class__.__name__)
    elif isinstance(exc, WebhookNotConfigured):
        # an operator has to write the secret (README "Set the secrets"); the provider retries meanwhile
        logger.error(str(exc), provider=exc.provider)
    metrics.add_metric(name=f"Webhook{answer.status.value // 100}xx", unit=MetricUnit.Count, value=1)
    logger.warning("webhook rejected", status=answer.status.value, code=answer.code, reason=answer.message)


errors.register(app, errors.webhook_rules(), _observe)
