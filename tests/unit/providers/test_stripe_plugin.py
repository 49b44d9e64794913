"""Stripe as one ``ProviderPlugin``: the webhook side (verify, event id, canonical event) without the SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cardops.kernel.secrets import WebhookSecrets
from cardops.payments.domain.payments import EventKind
from cardops.payments.domain.webhook_signatures import MalformedWebhook, SignatureError
from cardops.payments.providers.base import ProviderPlugin, UnsupportedProviderEvent
from cardops.payments.providers.stripe import StripePlugin
from cardops.sandbox.stripe_emulator import sign

from . import stripe_payloads as sp

SECRET = "whsec_plugin_tests"
NOW = 1_740_787_500


def body(event_type: str = "payment_intent.amount_capturable_updated", **extra: object) -> bytes:
    obj = (
        sp.payment_intent() if event_type.startswith("payment_intent.") else {"object": "customer", "id": "c"}
    )
    event = {"id": "evt_1", "object": "event", "type": event_type, "created": NOW, "data": {"object": obj}}
    return json.dumps(event | extra).encode()


def headers(raw: bytes, *, secret: str = SECRET, at: int = NOW) -> dict[str, str]:
    return {"Stripe-Signature": sign(raw, secret, at)}


def test_the_plugin_is_a_provider_plugin() -> None:
    plugin: ProviderPlugin = StripePlugin()
    assert plugin.name == "stripe" and plugin.capabilities.refund_reversal is False
    secrets = WebhookSecrets.model_validate(
        {"stripe_webhook_secret": "a", "stripe_webhook_secret_previous": "b"}
    )
    assert plugin.webhook_secrets(secrets) == ["a", "b"]


def test_a_signed_event_verifies_and_maps_to_one_canonical_event() -> None:
    plugin, raw = StripePlugin(tolerance_seconds=300), body()
    plugin.verify(raw, headers(raw).get, [SECRET], now=NOW + 10)
    assert plugin.event_id(raw) == "evt_1"
    event = plugin.to_canonical(raw)
    assert (event.provider, event.kind, event.event_id) == ("stripe", EventKind.AUTHORIZED, "evt_1")


def test_a_stale_or_foreign_signature_is_refused() -> None:
    plugin, raw = StripePlugin(tolerance_seconds=300), body()
    with pytest.raises(SignatureError):
        plugin.verify(raw, headers(raw).get, [SECRET], now=NOW + 301)
    with pytest.raises(SignatureError):
        plugin.verify(raw, headers(raw, secret="whsec_other").get, [SECRET], now=NOW)
    with pytest.raises(SignatureError):
        plugin.verify(raw, {}.get, [SECRET], now=NOW)


def test_other_event_types_are_unsupported_and_broken_ones_malformed() -> None:
    plugin = StripePlugin()
    with pytest.raises(UnsupportedProviderEvent):
        plugin.to_canonical(body("customer.created"))
    with pytest.raises(MalformedWebhook):
        plugin.to_canonical(b"{not json")
    with pytest.raises(MalformedWebhook):
        plugin.event_id(json.dumps({"type": "payment_intent.succeeded"}).encode())


def test_the_webhook_side_does_not_import_the_sdk() -> None:
    """Verify, event id and mapping run in the webhook function: no ``stripe`` SDK there."""
    probe = (
        "import sys; from cardops.payments.providers.stripe import StripePlugin; "
        "import cardops.payments.use_cases.webhook_intake; print('stripe' in sys.modules)"
    )
    functions = Path(__file__).resolve().parents[3] / "functions"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(functions)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "False"
