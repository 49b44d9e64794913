"""Fault injection on the functions' own boto3 clients: a botocore ``before-call`` hook raises what
DynamoDB would answer after botocore's retries are spent (throttling, 5xx) or a read timeout.

The hook runs before the request is sent, so botocore does not retry it and the test never sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

THROTTLE = "ProvisionedThroughputExceededException"
TRANSIENT_CODES = (
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
)


@dataclass
class Fault:
    remaining: int
    code: str
    timeout: bool
    hits: list[str] = field(default_factory=list)
    #: calls let through before the first failure (the second query of a request)
    after: int = 0

    def __call__(self, model: Any = None, **_: Any) -> None:
        if self.after > 0:
            self.after -= 1
            return
        if self.remaining <= 0:
            return
        self.remaining -= 1
        operation = getattr(model, "name", "?")
        self.hits.append(operation)
        if self.timeout:
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1/injected")
        status = 500 if self.code in ("InternalServerError", "ServiceUnavailable") else 400
        raise ClientError(
            {
                "Error": {"Code": self.code, "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            operation,
        )


def dynamodb_fault(operation: str | None = None, **options: Any) -> AbstractContextManager[Fault]:
    """``aws_fault`` of DynamoDB, the store every entry point writes to."""
    return aws_fault("dynamodb", operation, **options)


@contextmanager
def aws_fault(
    service: str,
    operation: str | None = None,
    *,
    times: int = 1,
    code: str = THROTTLE,
    timeout: bool = False,
    after: int = 0,
) -> Iterator[Fault]:
    """The next ``times`` calls of ``service`` (of ``operation``, e.g. ``PutItem``; any when None)
    fail, once ``after`` of them went through (``sqs``: the events queue refusing a send)."""
    from cardops.kernel import aws

    fault = Fault(remaining=times, code=code, timeout=timeout, after=after)
    event = f"before-call.{service}" + (f".{operation}" if operation else "")
    # every function signs with its own role's client (``provisioned``), so each gets the hook
    clients = [aws.client(service)]
    for identity in aws.installed_identities():
        with aws.acting_as(identity):
            clients.append(aws.client(service))
    emitters = list({id(c.meta.events): c.meta.events for c in clients}.values())
    for events in emitters:
        events.register(event, fault, unique_id=f"fault-{id(fault)}")
    try:
        yield fault
    finally:
        for events in emitters:
            events.unregister(event, unique_id=f"fault-{id(fault)}")
