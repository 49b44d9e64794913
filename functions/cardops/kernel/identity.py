"""Who acts on the admin API: the IAM caller API Gateway authenticated (SigV4), never a literal.

Deployed, the admin API is IAM-authorized, so ``requestContext.identity.userArn`` is the caller's
ARN (a user, or ``arn:aws:sts::…:assumed-role/…/session``), through either door: the REST API and
the admin HTTP API (payload format 1.0, the REST event's shape). An HTTP API also describes an IAM
caller in ``requestContext.authorizer.iam`` (the only place in its 2.0 events), which is read when
``identity`` has no ARN. The local sandbox's gateways put the caller there. A request without one
never changes anything: 403.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

#: an IAM ARN is at most 2048 characters; anything longer is not one
MAX_ARN = 2048


class MissingCallerIdentity(Exception):
    """The request carries no authenticated caller (the API is not behind IAM authorization)."""


def caller(event: BaseProxyEvent) -> str:
    """The acting identity recorded in the history and audit trail of an admin change."""
    context: Any = event.raw_event.get("requestContext")
    authorizer = _field(context, "authorizer")
    for described in (_field(context, "identity"), _field(authorizer, "iam")):
        arn = _field(described, "userArn")
        if isinstance(arn, str) and arn.startswith("arn:") and len(arn) <= MAX_ARN:
            return arn
    raise MissingCallerIdentity(
        "the request carries no IAM caller identity (requestContext.identity.userArn)"
    )


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None
