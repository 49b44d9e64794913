"""The admin API resolver: every admin route, its error mapping and its OpenAPI document."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from cardops.api.errors import error_response
from cardops.api.routes import sandbox_clock
from cardops.feeds.routes import feeds as feed_routes
from cardops.feeds.routes import tenants as tenant_routes
from cardops.kernel import safe_json
from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
from cardops.kernel.identity import MissingCallerIdentity
from cardops.kernel.observability import make_logger
from cardops.ledger import routes as ledger_routes
from cardops.payments.routes import capture as capture_routes
from cardops.payments.routes import events as event_routes
from cardops.payments.routes import payments
from cardops.payments.routes import refunds as refund_routes
from cardops.payments.routes import repayment as repayment_routes

logger = make_logger("cardops-admin")
metrics = Metrics(namespace="cardops", service="admin")
tracer = Tracer(service="cardops-admin")
app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=safe_json.loads)
app.include_router(payments.router)
app.include_router(repayment_routes.router)
repayment_routes.register_errors(app)
capture_routes.install(app)
app.include_router(sandbox_clock.router)
app.include_router(refund_routes.router)
app.include_router(ledger_routes.router)
app.include_router(feed_routes.router)
app.include_router(tenant_routes.router)
tenant_routes.register_errors(app)
app.include_router(event_routes.router)
event_routes.register_errors(app)


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response[Any]:
    errors = [
        {
            "loc": [str(part) for part in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request", "request validation failed", errors=errors
    )


@app.exception_handler(VersionConflict)
def _conflict(exc: VersionConflict) -> Response[Any]:
    return error_response(HTTPStatus.CONFLICT, "conflict", "the item changed concurrently; retry")


@app.exception_handler(StoreUnavailable)
def _unavailable(exc: StoreUnavailable) -> Response[Any]:
    return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", "storage is unavailable; retry")


@app.exception_handler(MissingCallerIdentity)
def _anonymous(exc: MissingCallerIdentity) -> Response[Any]:
    return error_response(HTTPStatus.FORBIDDEN, "no_caller_identity", str(exc))


@app.exception_handler(safe_json.UnsafeJson)
def _unsafe_json(exc: safe_json.UnsafeJson) -> Response[Any]:
    return error_response(HTTPStatus.BAD_REQUEST, "malformed_json", f"request body refused: {exc}")


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response[Any]:
    """Powertools' NotFoundError/BadRequestError etc. in the same error shape as every other answer."""
    status = HTTPStatus(exc.status_code)
    code = status.phrase.lower().replace(" ", "_")
    return error_response(status, code, exc.msg if isinstance(exc.msg, str) else status.phrase)


@app.exception_handler(Exception)
def _crashed(exc: Exception) -> Response[Any]:
    """A defect, not the caller's input: a JSON 500 the CLI can show, logged with its trace."""
    logger.exception("admin request failed", error=exc.__class__.__name__)
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "the request failed; see the logs"
    )


@app.not_found
def _not_found(exc: NotFoundError) -> Response[Any]:
    """Powertools sends unknown routes and a route's own ``NotFoundError`` here: keep them apart.

    An unknown route arrives as a bare ``NotFoundError()``; a route that found no payment or
    reservation raised one naming it, and the caller must read which resource is missing.
    """
    if isinstance(exc.msg, str) and exc.msg != NotFoundError().msg:
        return error_response(HTTPStatus.NOT_FOUND, "not_found", exc.msg)
    return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such admin route")


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
