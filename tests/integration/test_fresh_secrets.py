"""A fresh stack starts healthy (issue 10 item 5): secrets of ``{}`` or with every key empty.

The webhook refuses clearly (401 ``not_configured``, logged at ERROR) instead of crashing; provider
API calls raise a transient, named error, and nothing is cached while a key is missing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from cardops.kernel.secrets import PROVIDER_API_KEYS, WEBHOOK_SECRET_KEYS
from cardops.kernel.webhook_secrets import clear_cached_secrets
from tests.helpers import call, payjp_headers, stripe_headers

EMPTY_VALUES = {
    "missing": ({}, {}),
    "empty": (dict.fromkeys(WEBHOOK_SECRET_KEYS, ""), dict.fromkeys(PROVIDER_API_KEYS, "")),
}


@pytest.fixture(params=sorted(EMPTY_VALUES))
def fresh(provisioned: Any, request: pytest.FixtureRequest) -> Any:
    """The provisioned stack with both secrets as a fresh deploy leaves them."""
    webhook_value, api_keys_value = EMPTY_VALUES[request.param]
    client = boto3.client("secretsmanager", region_name="ap-northeast-1")
    client.put_secret_value(SecretId=provisioned.secret_arn, SecretString=json.dumps(webhook_value))
    client.put_secret_value(SecretId=provisioned.api_keys_secret_arn, SecretString=json.dumps(api_keys_value))
    clear_cached_secrets()
    from cardops.payments.providers import registry

    registry.reset()
    yield provisioned
    registry.reset()


def _event(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "type": "charge.succeeded", "data": {}}).encode()


@pytest.mark.parametrize("provider", ["stripe", "payjp", "sbps"])
def test_webhook_without_a_secret_is_refused_clearly(
    fresh: Any, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    from cardops.handlers.webhook import handler

    body = _event("evt_fresh")
    headers = {"stripe": stripe_headers(body), "payjp": payjp_headers()}.get(provider, {})
    if provider == "sbps":
        body = urlencode({"res_result": "OK", "sps_hashcode": "x"}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, answer = call(handler, "POST", f"/webhooks/{provider}", body, headers)
    assert status == 401
    assert answer["error"]["code"] == "not_configured"
    assert f"{provider} webhook secret not configured" in answer["error"]["message"]
    assert any(
        r.levelname == "ERROR" and r.getMessage() == f"{provider} webhook secret not configured"
        for r in caplog.records
    ), caplog.records
    queue = boto3.client("sqs", region_name="ap-northeast-1")
    assert "Messages" not in queue.receive_message(QueueUrl=fresh.events_queue_url)


@pytest.mark.parametrize("key", ["payjp_secret_key", "stripe_secret_key"])
def test_provider_api_key_not_configured_is_a_named_transient_error(fresh: Any, key: str) -> None:
    from cardops.payments.providers import registry
    from cardops.payments.providers.base import ProviderNotConfigured, TransientProviderError

    with pytest.raises(ProviderNotConfigured, match=f"{key} is not configured") as raised:
        registry.api_key(key)
    assert isinstance(raised.value, TransientProviderError)
    assert raised.value.code == "not_configured"


def test_stripe_client_is_not_cached_while_its_key_is_missing(fresh: Any) -> None:
    from cardops.payments.providers import registry
    from cardops.payments.providers.base import ProviderNotConfigured

    with pytest.raises(ProviderNotConfigured):
        registry.provider_client("stripe")
    boto3.client("secretsmanager", region_name="ap-northeast-1").put_secret_value(
        SecretId=fresh.api_keys_secret_arn, SecretString=json.dumps({"stripe_secret_key": "sk_test_now"})
    )
    clear_cached_secrets()
    assert registry.provider_client("stripe").name == "stripe"


def test_payjp_call_without_a_key_fails_before_reaching_the_provider(fresh: Any) -> None:
    from cardops.payments.providers import registry
    from cardops.payments.providers.base import ProviderNotConfigured

    client = registry.provider_client("payjp")  # the key is read per call, so building it is fine
    with pytest.raises(ProviderNotConfigured, match="payjp_secret_key"):
        client.retrieve("ch_fresh")


def test_sbps_client_needs_its_ids_and_hash_key_and_names_what_is_wrong(fresh: Any) -> None:
    from cardops.payments.providers import registry
    from cardops.payments.providers.base import ProviderNotConfigured
    from cardops.payments.use_cases.providers import provider_client

    with pytest.raises(registry.UnsupportedProvider):
        registry.provider_client("sbps")  # no client without the stored payments' tracking ids

    with pytest.raises(ProviderNotConfigured, match="sbps_merchant_id is not configured"):
        provider_client("sbps")
    secrets = boto3.client("secretsmanager", region_name="ap-northeast-1")
    keys = {"sbps_merchant_id": "123", "sbps_service_id": "001", "sbps_api_hash_key": "k"}
    secrets.put_secret_value(SecretId=fresh.api_keys_secret_arn, SecretString=json.dumps(keys))
    clear_cached_secrets()
    with pytest.raises(ProviderNotConfigured, match="merchant_id"):
        provider_client("sbps")
    keys["sbps_merchant_id"] = "12345"
    secrets.put_secret_value(SecretId=fresh.api_keys_secret_arn, SecretString=json.dumps(keys))
    clear_cached_secrets()
    assert provider_client("sbps").name == "sbps"
