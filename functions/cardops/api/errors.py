"""Domain errors become HTTP answers here, in one place (never a 500 for bad input)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types


def error_response(status: HTTPStatus, code: str, message: str, **details: Any) -> Response[Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return Response(status_code=status.value, content_type=content_types.APPLICATION_JSON, body=body)
