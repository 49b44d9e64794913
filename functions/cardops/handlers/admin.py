"""Lambda entry point: the IAM-authorized admin API."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardops.api.admin import app, logger, metrics, tracer
from cardops.handlers._common import entry_point
from cardops.payments.providers import budget


@entry_point(logger, tracer, metrics, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # every provider call of the request, retries included, ends inside API Gateway's 29 s
    with budget.call_budget(budget.for_lambda(context.get_remaining_time_in_millis())):
        return app.resolve(event, context)
