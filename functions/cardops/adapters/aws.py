"""boto3 clients, created once per process on first use (not at import: cold starts stay short).

``AWS_ENDPOINT_URL`` (honoured by boto3 itself) points every client at the sandbox's moto server.

The DynamoDB client is guarded: once botocore's own retries are spent, throttling, a DynamoDB 5xx
or a connection/read timeout raises ``StoreUnavailable`` from every call, so each entry point maps
one exception to its retry signal (503 to API callers, a batch item failure to SQS, a retryable
error to Step Functions) instead of crashing on a driver error.
"""

from __future__ import annotations

import functools
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)

#: error codes DynamoDB answers when a retry later can succeed (throttling and its own 5xx)
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class StoreUnavailable(Exception):
    """A transient failure to read or write (throttling, 5xx, timeout): the caller should be retried."""


def is_transient(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code", "") in TRANSIENT_CODES


class GuardedClient:
    """A boto3 client whose transient failures raise ``StoreUnavailable`` (any other error is kept)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or name in ("meta", "exceptions") or not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except ClientError as exc:
                if is_transient(exc):
                    code = exc.response.get("Error", {}).get("Code", "")
                    raise StoreUnavailable(f"{exc.operation_name}: {code}") from exc
                raise
            except (BotoConnectionError, HTTPClientError) as exc:  # connect/read timeouts, resets
                raise StoreUnavailable(f"{name}: {exc.__class__.__name__}") from exc

        return guarded


#: services whose clients are guarded (the others' adapters map their own errors)
_GUARDED = frozenset({"dynamodb"})


@cache
def client(service: str) -> Any:
    made = boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]
    return GuardedClient(made) if service in _GUARDED else made


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")  # type: ignore[no-any-return]


def sqs() -> SQSClient:
    return client("sqs")  # type: ignore[no-any-return]


def s3() -> S3Client:
    return client("s3")  # type: ignore[no-any-return]


def stepfunctions() -> SFNClient:
    return client("stepfunctions")  # type: ignore[no-any-return]


def reset_clients() -> None:
    """Drop cached clients (tests switch between moto backends and endpoints)."""
    client.cache_clear()
