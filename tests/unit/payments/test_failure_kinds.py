"""Issue 11 item 6: permanent and transient processing failures are told apart in one place."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
from cardops.payments.domain.webhook_signatures import MalformedWebhook
from cardops.payments.providers.base import PermanentProviderError, TransientProviderError
from cardops.payments.use_cases.payment_events import RawEventMissing, describe_permanent, is_permanent


class _Amount(BaseModel):
    amount: int


def _validation_error() -> ValidationError:
    try:
        _Amount.model_validate({"amount": "lots"})
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a validation error")


@pytest.mark.parametrize(
    "exc",
    [MalformedWebhook("PAY.JP event has no data object"), _validation_error()],
    ids=["malformed", "schema"],
)
def test_schema_invalid_bodies_are_permanent(exc: Exception) -> None:
    assert is_permanent(exc)
    assert describe_permanent(exc).startswith("permanent, parked: ")


@pytest.mark.parametrize(
    "exc",
    [
        TransientProviderError("timeout", status=503),
        PermanentProviderError("No such charge", status=404),
        StoreUnavailable("ThrottlingException"),
        VersionConflict("raced"),
        RawEventMissing("raw event payjp/x not found"),
        RuntimeError("bug"),
    ],
    ids=["provider-5xx", "provider-404", "throttled", "conflict", "no-stored-event", "bug"],
)
def test_everything_else_is_retried(exc: Exception) -> None:
    assert not is_permanent(exc)
