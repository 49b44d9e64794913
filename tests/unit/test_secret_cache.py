"""Secrets are read through the function's own client and kept for ``SECRET_MAX_AGE_SECONDS`` (no
Powertools Parameters: it imports boto3, issue 13); a malformed secret is refused without its value."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cardops.kernel.config import reset_settings
from cardops.kernel.webhook_secrets import clear_cached_secrets, read_secret, webhook_secrets
from tests.helpers import counting_aws_calls

SECRET_ID = "cardops/webhook"


@pytest.fixture
def secret(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from cardops.kernel import aws as aws_adapter

    arn: str = aws_adapter.client("secretsmanager").create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"stripe_webhook_secret": "whsec_1"})
    )["ARN"]
    monkeypatch.setenv("WEBHOOK_SECRET_ID", arn)
    monkeypatch.setenv("TABLE_NAME", "cardops-secret-cache")
    reset_settings()
    clear_cached_secrets()
    yield arn
    clear_cached_secrets()


def _write(arn: str, value: str) -> None:
    from cardops.kernel import aws as aws_adapter

    aws_adapter.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)


def test_a_secret_is_read_once_within_its_max_age_and_again_when_cleared(secret: str) -> None:
    with counting_aws_calls() as calls:
        assert webhook_secrets().stripe_secrets() == ["whsec_1"]
        _write(secret, json.dumps({"stripe_webhook_secret": "whsec_2"}))
        assert webhook_secrets().stripe_secrets() == ["whsec_1"]  # cached for 300 s
        clear_cached_secrets()
        assert webhook_secrets().stripe_secrets() == ["whsec_2"]
    assert calls["secretsmanager:GetSecretValue"] == 2


def test_a_max_age_of_zero_reads_every_time(secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    reset_settings()
    with counting_aws_calls() as calls:
        read_secret(secret, "WEBHOOK_SECRET_ID")
        read_secret(secret, "WEBHOOK_SECRET_ID")
    assert calls["secretsmanager:GetSecretValue"] == 2


@pytest.mark.parametrize("value", ["not json sk_live_leak", json.dumps(["sk_live_leak"])])
def test_a_secret_that_is_not_a_json_object_is_refused_without_its_value(secret: str, value: str) -> None:
    _write(secret, value)
    with pytest.raises(ValueError, match="WEBHOOK_SECRET_ID must be a JSON object") as refused:
        read_secret(secret, "WEBHOOK_SECRET_ID")
    assert "sk_live_leak" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__context__ is None


def test_no_secret_id_reads_nothing(aws: None) -> None:
    with counting_aws_calls() as calls:
        assert read_secret("", "WEBHOOK_SECRET_ID") == {}
    assert not calls
