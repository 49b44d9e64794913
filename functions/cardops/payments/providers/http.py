"""One small HTTP layer for provider APIs: timeouts, retries with backoff, error classes.

A retried POST carries the same idempotency key, so a retry after a lost response cannot charge,
capture or refund twice.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import urllib3

from cardops.payments.providers import budget
from cardops.payments.providers.base import PermanentProviderError, TransientProviderError

_POOL = urllib3.PoolManager(num_pools=8, maxsize=16)
RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


def form_encode(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """The providers' form encoding: ``metadata[key]=v``, ``expand[0]=x``, booleans as true/false."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        pairs.extend(_encode_value(name, value))
    return pairs


def _encode_value(name: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return form_encode(value, name)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        pairs: list[tuple[str, str]] = []
        for index, item in enumerate(value):
            pairs.extend(_encode_value(f"{name}[{index}]", item))
        return pairs
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    return [(name, str(value))]


class ProviderHttp:
    def __init__(
        self,
        *,
        base_url: str,
        auth_header: Callable[[], str],
        provider: str,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth_header = auth_header
        self.provider = provider
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._sleep = sleep
        self.calls = 0

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": self._auth_header(), "Accept": "application/json"}
        body: str | None = None
        url = f"{self.base_url}{path}"
        if method == "GET":
            if params:
                url = f"{url}?{urlencode(form_encode(params))}"
        else:
            body = urlencode(form_encode(params or {}))
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
        last_error: Exception | None = None
        for attempt in range(self._max_attempts):
            if attempt:
                pause = self._backoff(attempt)
                if not budget.allows_pause(pause):
                    raise budget.exceeded(self.provider, last_error)
                self._sleep(pause)
            timeout = budget.attempt_timeout(self._timeout, self.provider, last_error)
            self.calls += 1
            try:
                response = _POOL.request(
                    method, url, body=body, headers=headers, timeout=timeout, retries=False
                )
            except urllib3.exceptions.HTTPError as exc:  # timeouts, refused connections, resets
                last_error = TransientProviderError(f"{self.provider} unreachable: {exc.__class__.__name__}")
                continue
            payload = _json(response.data)
            if 200 <= response.status < 300:
                return payload
            raw_error = payload.get("error")
            error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
            code = str(error.get("code") or error.get("type") or response.status)
            message = str(error.get("message") or f"HTTP {response.status}")
            if response.status in RETRYABLE_STATUSES:
                last_error = TransientProviderError(
                    f"{self.provider}: {message}", code=code, status=response.status
                )
                continue
            raise PermanentProviderError(f"{self.provider}: {message}", code=code, status=response.status)
        assert last_error is not None
        raise last_error

    def _backoff(self, attempt: int) -> float:
        ceiling = self._backoff_base * (2**attempt)
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
