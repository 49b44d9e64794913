"""The webhook function's front: the payments slice's webhook route, answered from the webhook table of
``api/errors.py`` (``errors.webhook_rules``) with every refusal counted, assembled here in the shell as
the admin resolver is in ``api/admin.py``. No Powertools event handler (issue 13: one route)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.metrics import MetricUnit

from cardops.api import errors
from cardops.payments.routes import webhooks
from cardops.payments.routes.webhooks import logger, metrics, tracer
from cardops.payments.use_cases.webhook_intake import WebhookNotConfigured

__all__ = ["TABLE", "logger", "metrics", "receive", "tracer"]


def _receive(event: errors.ProxyEvent) -> errors.ProxyResponse:
    return errors.proxy_response(HTTPStatus.OK, webhooks.receive(event))


def _observe(exc: Exception, answer: errors.ErrorAnswer) -> None:
    """Every refusal is counted by its class (Webhook4xx/5xx) and logged; a defect with its trace."""
    if answer.defect:
        logger.exception("webhook intake failed", error=exc.__class__.__name__)
    elif isinstance(exc, WebhookNotConfigured):
        # an operator has to write the secret (README "Set the secrets"); the provider retries meanwhile
        logger.error(str(exc), provider=exc.provider)
    metrics.add_metric(name=f"Webhook{answer.status.value // 100}xx", unit=MetricUnit.Count, value=1)
    logger.warning("webhook rejected", status=answer.status.value, code=answer.code, reason=answer.message)


TABLE = errors.ErrorTable(errors.webhook_rules(), _observe)
#: the route as the function runs it: a proxy event in, a proxy answer out, never an exception
receive = TABLE.proxy(_receive)
