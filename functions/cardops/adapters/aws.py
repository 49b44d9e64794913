"""boto3 clients, created once per process on first use (not at import: cold starts stay short).

``AWS_ENDPOINT_URL`` (honoured by boto3 itself) points every client at the sandbox's moto server.

In AWS each function has its own credentials (its role) and nothing here changes that: with no
credentials installed, clients use the default chain. The sandbox and the tests run every function
in one process, so they name the running function (``acting_as``) and install one set of
credentials per function (``install_credentials``, the function's IAM role in moto): each client
is then signed as the function that uses it, and moto enforces that role's policies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


#: the function whose code is running (set by whatever invokes a handler in the sandbox/tests)
_identity: ContextVar[str | None] = ContextVar("cardops_aws_identity", default=None)
_credentials: dict[str, Credentials] = {}
_LOCK = threading.Lock()


class UnknownIdentity(RuntimeError):
    """A function runs whose credentials were never installed: it must not fall back to others'."""


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Run the block as ``function`` (a key of ``resources.FUNCTIONS``)."""
    token = _identity.set(function)
    try:
        yield
    finally:
        _identity.reset(token)


def current_identity() -> str | None:
    """The function named by the innermost ``acting_as``, if credentials are installed for it."""
    identity = _identity.get()
    if identity is None or not _credentials:
        return None
    if identity not in _credentials:
        raise UnknownIdentity(f"no credentials installed for function {identity!r}")
    return identity


def install_credentials(credentials: Mapping[str, Credentials]) -> None:
    """Sign each function's clients with its own credentials (sandbox and tests only)."""
    with _LOCK:
        _credentials.clear()
        _credentials.update(credentials)
        _client.cache_clear()


def clear_credentials() -> None:
    with _LOCK:
        _credentials.clear()
        _client.cache_clear()


def client(service: str) -> Any:
    return _client(service, current_identity())


@cache
def _client(service: str, identity: str | None) -> Any:
    if identity is None:
        return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]
    keys = _credentials[identity]
    session = boto3.session.Session(
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
    )
    return session.client(service, config=_CONFIG)  # type: ignore[call-overload]


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
    _client.cache_clear()
