"""AWS clients, created once per process on first use (not at import: cold starts stay short).

Clients come from botocore sessions: boto3 adds resources and S3 transfers that no function uses,
and importing it (s3transfer, boto3's resource model) cost the webhook function about a tenth of
its import (issue 13). ``AWS_ENDPOINT_URL`` (honoured by botocore) points every client at the
sandbox's moto server.

The DynamoDB client is guarded: once botocore's own retries are spent, throttling, a DynamoDB 5xx
or a connection/read timeout raises ``StoreUnavailable`` from every call, so each entry point maps
one exception to its retry signal (503 to API callers, a batch item failure to SQS, a retryable
error to Step Functions) instead of crashing on a driver error.

In AWS each function has its own credentials (its role) and nothing here changes that: with no
credentials installed, clients use the default chain. The sandbox and the tests run every function
in one process, so they name the running function (``acting_as``) and install one set of
credentials per function (``install_credentials``, the function's IAM role in moto): each client
is then signed as the function that uses it, and moto enforces that role's policies.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session
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
    """A client whose transient failures raise ``StoreUnavailable`` (any other error is kept)."""

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
        _session.cache_clear()


def installed_identities() -> list[str]:
    """The functions with installed credentials (tests reach each one's clients, e.g. to inject faults)."""
    with _LOCK:
        return sorted(_credentials)


def clear_credentials() -> None:
    install_credentials({})


def client(service: str) -> Any:
    return _client(service, current_identity())


@cache
def _session(identity: str | None) -> botocore.session.Session:
    """One session per identity, shared by all its clients: a session's loader reads botocore's
    endpoint, partition and retry data once. A session per client read them again for each (on a
    cold start the webhook's three clients cost twice the CPU of one session's three)."""
    session = botocore.session.Session()
    if identity is not None:
        keys = _credentials[identity]
        session.set_credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
    return session


#: a session is not safe to make clients from in two threads at once (the feed's writers)
_CLIENTS_LOCK = threading.Lock()


@cache
def _client(service: str, identity: str | None) -> Any:
    with _CLIENTS_LOCK:
        made = _session(identity).create_client(service, config=_CONFIG)
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
    """Drop cached clients and their sessions (tests switch between moto backends and endpoints)."""
    _client.cache_clear()
    _session.cache_clear()
