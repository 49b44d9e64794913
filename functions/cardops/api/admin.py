"""The admin API resolver: every admin route, its error mapping and its OpenAPI document."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from cardops.api import errors
from cardops.api.routes import sandbox_clock
from cardops.feeds.routes import feeds as feed_routes
from cardops.feeds.routes import tenants as tenant_routes
from cardops.kernel import safe_json
from cardops.kernel.observability import make_logger
from cardops.ledger import routes as ledger_routes
from cardops.payments.routes import capture as capture_routes
from cardops.payments.routes import events as event_routes
from cardops.payments.routes import payments
from cardops.payments.routes import refunds as refund_routes
from cardops.payments.routes import repayment as repayment_routes
from cardops.support import routes as support_routes

logger = make_logger("cardops-admin")
metrics = Metrics(namespace="cardops", service="admin")
tracer = Tracer(service="cardops-admin")
app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=safe_json.loads)
app.include_router(payments.router)
app.include_router(repayment_routes.router)
app.include_router(capture_routes.router)
app.include_router(sandbox_clock.router)
app.include_router(refund_routes.router)
app.include_router(ledger_routes.router)
app.include_router(feed_routes.router)
app.include_router(tenant_routes.router)
app.include_router(event_routes.router)
app.include_router(support_routes.router)


def _observe(exc: Exception, answer: errors.ErrorAnswer) -> None:
    if answer.defect:
        logger.exception("admin request failed", error=exc.__class__.__name__)


errors.register(app, errors.admin_rules(), _observe)


def _log_request(app: APIGatewayRestResolver, next_middleware: Any) -> Response[Any]:
    """Every admin request at DEBUG (the logger masks personal data), every answer at INFO."""
    event = app.current_event
    try:
        body = event.decoded_body
    except (UnicodeDecodeError, ValueError):
        body = "<not UTF-8>"
    logger.debug("admin request", method=event.http_method, path=event.path, body=body)
    response: Response[Any] = next_middleware(app)
    logger.info("admin answer", method=event.http_method, path=event.path, status=response.status_code)
    return response


app.use(middlewares=[_log_request])
