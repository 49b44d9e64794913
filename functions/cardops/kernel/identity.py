"""Who acts on the admin API: the IAM caller API Gateway authenticated (SigV4), never a literal.

Deployed, the admin API is IAM-authorized, so ``requestContext.identity.userArn`` is the caller's
ARN (a user, or ``arn:aws:sts::…:assumed-role/…/session``). The local sandbox's gateway puts its
configured operator there. A request without it never changes anything: 403.
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
    identity: Any = context.get("identity") if isinstance(context, dict) else None
    arn = identity.get("userArn") if isinstance(identity, dict) else None
    if not isinstance(arn, str) or not arn.startswith("arn:") or len(arn) > MAX_ARN:
        raise MissingCallerIdentity(
            "the request carries no IAM caller identity (requestContext.identity.userArn)"
        )
    return arn
