"""``kernel.dynamodb.expect_failed_condition``: a put-if-absent's failed condition is its expected
answer; a retryable driver error is ``StoreUnavailable``; anything else is raised as it is."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cardops.kernel.dynamodb import StoreUnavailable, expect_failed_condition


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutItem")


def test_a_failed_condition_is_expected() -> None:
    assert expect_failed_condition(_error("ConditionalCheckFailedException")) is None


def test_a_retryable_error_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="ProvisionedThroughputExceededException"):
        expect_failed_condition(_error("ProvisionedThroughputExceededException"))


def test_any_other_error_is_raised_as_it_is() -> None:
    error = _error("ValidationException")
    with pytest.raises(ClientError) as raised:
        expect_failed_condition(error)
    assert raised.value is error
