"""Lambda entry point: the web console (``/console``), server-rendered pages for people."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardops.console.app import build, logger
from cardops.console.wiring import default_deps
from cardops.handlers._common import entry_point
from cardops.payments.providers import budget


@cache
def console_app() -> APIGatewayRestResolver:
    """Built on the first request (not at import), from the settings of the running function."""
    return build(default_deps())


tracer = Tracer(service="cardops-console")
metrics = Metrics(namespace="cardops", service="console")


@entry_point(logger, tracer, metrics, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # a capture or refund calls the provider: every call, retries included, ends inside API Gateway's 29 s
    with budget.call_budget(budget.for_lambda(context.get_remaining_time_in_millis())):
        return console_app().resolve(event, context)
