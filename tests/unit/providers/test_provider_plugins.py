"""Every provider is one plugin behind ``ProviderPlugin`` and found through the registry: no module
outside ``payments/providers/`` tells providers apart by name (issue 14 item 2), every parser
refuses implausible amounts by name (issue 12 item 7), and a webhook a plugin signs for the sandbox
is one its own ``verify`` accepts (``cardops invoke`` and the tests sign that way)."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from cardops import resources
from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT
from cardops.kernel.secrets import WebhookSecrets
from cardops.payments.domain.capture_deadline import AuthorizationHold
from cardops.payments.domain.payments import EventKind, PaymentFacts, RefundFact
from cardops.payments.domain.refunds import RefundReport
from cardops.payments.domain.webhook_signatures import MalformedWebhook, SignatureError
from cardops.payments.providers import registry
from cardops.payments.providers.base import (
    EventContext,
    ProviderPayment,
    ProviderPlugin,
    UnsupportedProviderEvent,
)
from cardops.payments.providers.payjp import PLUGIN as PAYJP
from cardops.payments.providers.payjp.client import charge_to_payment
from cardops.payments.providers.sbps import PLUGIN as SBPS
from cardops.payments.providers.stripe import PLUGIN as STRIPE
from cardops.payments.providers.stripe import StripePlugin

from . import stripe_payloads as sp
from .test_sbps_notifications import FIELDS as SBPS_FIELDS

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions" / "cardops"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def payjp_event(event_type: str = "charge.succeeded", charge_id: str = "ch_1") -> bytes:
    return json.dumps(
        {"id": "evnt_1", "object": "event", "type": event_type, "data": {"id": charge_id}}
    ).encode()


def payjp_charge(**overrides: Any) -> dict[str, Any]:
    charge = {"id": "ch_1", "amount": 5000, "currency": "jpy", "paid": True, "captured": False}
    return charge | overrides


class Fetcher:
    """The PAY.JP API as the processor hands it to the plugin: one charge, every call recorded."""

    def __init__(self, charge: dict[str, Any]) -> None:
        self.charge, self.calls = charge, list[str]()

    def retrieve(self, payment_id: str) -> ProviderPayment:
        self.calls.append(payment_id)
        return charge_to_payment(self.charge)


def context(fetcher: Fetcher) -> EventContext:
    return EventContext(now=NOW, client=lambda: fetcher)  # type: ignore[arg-type, return-value]


# -- the registry ------------------------------------------------------------------------------


def test_every_provider_is_found_by_its_name() -> None:
    assert registry.names() == ("payjp", "stripe", "sbps")
    for name in registry.names():
        plugin = registry.find(name)
        assert plugin is not None and plugin.name == name
    assert registry.find("sandbox") is None and registry.find("paypal") is None
    assert (PAYJP.authorization_hold, STRIPE.authorization_hold, SBPS.authorization_hold) == (
        AuthorizationHold.EXPIRY_DAYS,
        AuthorizationHold.CARD_NETWORKS,
        AuthorizationHold.UNKNOWN,
    )
    assert registry.reads_stored_payments("sbps") and not registry.reads_stored_payments("payjp")
    assert registry.authorization_hold("sandbox") is AuthorizationHold.UNKNOWN


def _compared_names(tree: ast.AST, names: set[str]) -> list[int]:
    """Lines comparing a value to one of ``names`` as a literal (``==``, ``!=``, ``in (…)``, ``case``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            values = [
                v
                for o in operands
                for v in (o.elts if isinstance(o, ast.Tuple | ast.List | ast.Set) else [o])
            ]
            if any(isinstance(v, ast.Constant) and v.value in names for v in values):
                found.append(node.lineno)
        elif (
            isinstance(node, ast.MatchValue)
            and isinstance(node.value, ast.Constant)
            and node.value.value in names
        ):
            found.append(node.lineno)
    return found


def test_the_probe_sees_every_form_of_comparison() -> None:
    source = 'a == "payjp"\nb in ("x", "stripe")\nmatch c:\n    case "sbps":\n        pass\nd == "other"\n'
    assert _compared_names(ast.parse(source), {"payjp", "stripe", "sbps"}) == [1, 2, 4]


def test_no_module_outside_the_provider_folders_compares_a_provider_name() -> None:
    """Adding a provider is its folder and its line in the registry: nothing else branches on names."""
    names = set(registry.names())
    offenders = []
    for path in sorted(FUNCTIONS.rglob("*.py")):
        relative = path.relative_to(FUNCTIONS).as_posix()
        if relative.startswith("payments/providers/"):
            continue
        for line in _compared_names(ast.parse(path.read_text(encoding="utf-8")), names):
            offenders.append(f"{relative}:{line}")
    assert offenders == []


# -- PAY.JP as a plugin ------------------------------------------------------------------------


def test_payjp_verifies_its_token_and_reads_an_event_from_a_refetch() -> None:
    secrets = WebhookSecrets.model_validate(
        {"payjp_webhook_token": "tok", "payjp_webhook_token_previous": "old"}
    )
    assert PAYJP.webhook_secrets(secrets) == ["tok", "old"]
    PAYJP.verify(b"{}", {"X-Payjp-Webhook-Token": "old"}.get, ["tok", "old"], now=0.0)
    with pytest.raises(SignatureError):
        PAYJP.verify(b"{}", {"X-Payjp-Webhook-Token": "forged"}.get, ["tok"], now=0.0)
    fetcher = Fetcher(payjp_charge(captured=True))
    event = PAYJP.to_canonical(payjp_event("charge.captured"), context(fetcher))
    assert (event.provider, event.event_id, event.kind) == ("payjp", "evnt_1", EventKind.CAPTURED)
    assert (event.occurred_at, event.facts.captured_amount, fetcher.calls) == (NOW, 5000, ["ch_1"])
    assert PAYJP.event_id(payjp_event()) == "evnt_1"


def test_payjp_events_of_other_types_are_unsupported_and_broken_ones_malformed() -> None:
    fetcher = Fetcher(payjp_charge())
    with pytest.raises(UnsupportedProviderEvent):
        PAYJP.to_canonical(payjp_event("customer.created"), context(fetcher))
    with pytest.raises(MalformedWebhook, match="names no charge"):
        PAYJP.to_canonical(payjp_event(charge_id="cus_1"), context(fetcher))
    with pytest.raises(MalformedWebhook):
        PAYJP.to_canonical(b"[1]", context(fetcher))
    assert fetcher.calls == []


def test_each_provider_reports_its_refunds_its_own_way() -> None:
    payjp_facts = charge_to_payment(payjp_charge(captured=True, amount_refunded=3000)).facts
    assert PAYJP.refund_report(payjp_facts) == RefundReport(settled_total=3000)
    assert PAYJP.refund_report(PaymentFacts()) == RefundReport()
    stripe_facts = PaymentFacts(
        refunds={
            "ch_1:amount_refunded": RefundFact(amount=4000, state="succeeded"),
            "re_failed": RefundFact(amount=1000, state="failed"),
            "re_canceled": RefundFact(amount=500, state="canceled"),
        }
    )
    assert STRIPE.refund_report(stripe_facts) == RefundReport(failed=frozenset({"re_failed", "re_canceled"}))
    assert SBPS.refund_report(stripe_facts) == RefundReport()


# -- amounts (issue 12 item 7): one check, every parser ----------------------------------------


def _stripe_intent_event(amount: int) -> bytes:
    intent = sp.payment_intent(amount_capturable=amount) | {"amount": amount}
    return json.dumps(sp.event("payment_intent.amount_capturable_updated", intent)).encode()


def _sbps_notification(amount: int) -> bytes:
    from cardops.payments.providers.sbps import notifications

    fields = [(name, str(amount) if name == "amount" else value) for name, value in SBPS_FIELDS]
    return notifications.sign(fields, "key")


def _payjp_refetched(amount: int) -> bytes:
    PAYJP.to_canonical(payjp_event(), context(Fetcher(payjp_charge(amount=amount))))
    return b""


@pytest.mark.parametrize(
    "parse",
    [
        pytest.param(lambda amount: STRIPE.to_canonical(_stripe_intent_event(amount)), id="stripe"),
        pytest.param(lambda amount: SBPS.to_canonical(_sbps_notification(amount)), id="sbps"),
        pytest.param(_payjp_refetched, id="payjp"),
    ],
)
def test_every_parser_refuses_an_amount_beyond_the_plausible_range_by_name(parse: Any) -> None:
    parse(MAX_PLAUSIBLE_AMOUNT)  # the largest plausible amount is read
    with pytest.raises(MalformedWebhook, match=f"beyond the plausible range.*at most {MAX_PLAUSIBLE_AMOUNT}"):
        parse(MAX_PLAUSIBLE_AMOUNT + 1)


def test_stripe_refunds_and_charges_are_bounded_too() -> None:
    refund = sp.refund(amount=MAX_PLAUSIBLE_AMOUNT + 1, status="failed")
    with pytest.raises(MalformedWebhook, match="amount"):
        STRIPE.to_canonical(json.dumps(sp.event("charge.refund.updated", refund)).encode())
    charge = sp.charge(amount_refunded=MAX_PLAUSIBLE_AMOUNT + 1)
    with pytest.raises(MalformedWebhook, match="amount_refunded"):
        STRIPE.to_canonical(json.dumps(sp.event("charge.refunded", charge)).encode())


# -- signing for the sandbox -------------------------------------------------------------------

PAYLOADS = {
    "payjp": payjp_event(),
    "stripe": _stripe_intent_event(5000),
    "sbps": urlencode(SBPS_FIELDS).encode(),
}


@pytest.mark.parametrize(
    "plugin",
    # Stripe's registered plugin reads its tolerance from the settings: here it is given
    [PAYJP, StripePlugin(tolerance_seconds=300), SBPS],
    ids=lambda plugin: plugin.name,
)
def test_a_webhook_signed_for_the_sandbox_verifies_with_the_sandbox_secrets(plugin: ProviderPlugin) -> None:
    name = plugin.name
    now = NOW.timestamp()
    body, headers = plugin.sign_test_webhook(PAYLOADS[name], resources.SANDBOX_SECRETS, now=now)
    secrets = plugin.webhook_secrets(WebhookSecrets.model_validate(resources.SANDBOX_SECRETS))
    plugin.verify(body, headers.get, secrets, now=now)
    assert plugin.event_id(body)
    with pytest.raises(SignatureError):
        plugin.verify(body, headers.get, ["another secret"], now=now)
