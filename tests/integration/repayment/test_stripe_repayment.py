"""Re-payment of Stripe originals through the real workflow (issue 12 item 3): until now every Stripe
original ended ``alternative_payment_required`` because no re-charger existed for Stripe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from cardops import resources
from cardops.kernel import clock
from cardops.kernel.config import reset_settings
from cardops.payments.domain.payments import CanonicalEvent, EventKind, PaymentFacts, PaymentMetadata
from cardops.payments.providers import registry
from cardops.payments.providers.stripe.client import StripeClient, StripeSettings
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases.payment_events import apply_canonical
from cardops.sandbox.stripe_emulator import StripeEmulator
from tests.integration.repayment.conftest import admin, start_body, wait_for_execution, wait_for_status

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])
SECRET = resources.SANDBOX_SECRETS["stripe_secret_key"]


@pytest.fixture
def stripe_emulator(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeEmulator]:
    emu = StripeEmulator(secret_key=SECRET, clock=clock.now)
    emu.start()
    monkeypatch.setenv("STRIPE_API_BASE", emu.url)
    reset_settings()
    registry.reset()
    yield emu
    emu.stop()
    registry.reset()


def expired_stripe_original(emu: StripeEmulator, *, keep_card: bool = True) -> str:
    """A customer's saved card authorized at booking, released at the deadline: expired_refunded."""
    customer = emu.create_customer({"email": "hanako.yamada@example.jp"})
    intent = emu.create_payment_intent(
        {
            "amount": "12000",
            "currency": "jpy",
            "capture_method": "manual",
            "customer": customer["id"],
            "payment_method": "pm_card_jcb",
            "setup_future_usage": "off_session",
            "confirm": "true",
            "metadata": {
                "store_id": "store_042",
                "reservation_id": "rsv_20250301_0007",
                "visit_date": "2025-03-05",
            },
        }
    )
    emu.cancel_payment_intent(intent["id"], {"cancellation_reason": "abandoned"})
    if not keep_card:
        emu.detach_all(customer["id"])
    client = StripeClient(StripeSettings(api_key=SecretStr(SECRET), base_url=emu.url, max_retries=0))
    authorized = client.retrieve(intent["id"])
    now = clock.now()
    payments = PaymentRepository()
    for kind, facts in (
        (EventKind.AUTHORIZED, authorized.facts.model_copy(update={"canceled": False, "authorized_at": now})),
        (EventKind.AUTHORIZATION_EXPIRED, PaymentFacts(expired=True, canceled=True)),
    ):
        apply_canonical(
            CanonicalEvent(
                provider="stripe",
                provider_payment_id=intent["id"],
                event_id=f"evt_{kind.value}_{intent['id']}",
                kind=kind,
                occurred_at=now,
                facts=facts,
                metadata=authorized.metadata if kind is EventKind.AUTHORIZED else PaymentMetadata(),
            ),
            payments,
            now=now,
        )
    return str(intent["id"])


def stripe_body(intent_id: str, request_id: str) -> dict[str, Any]:
    body = start_body(intent_id, request_id=request_id)
    body["original_payment"]["provider"] = "stripe"
    return body


def test_an_approved_request_charges_the_saved_stripe_card_off_session(
    stripe_emulator: StripeEmulator,
) -> None:
    original = expired_stripe_original(stripe_emulator)
    assert PaymentRepository().get("stripe", original).status.value == "expired_refunded"  # type: ignore[union-attr]
    code, started = admin("POST", "/admin/repayments", stripe_body(original, "rq_stripe_0001"))
    assert code == 201, started
    wait_for_status("rq_stripe_0001", "awaiting_decision")
    code, decided = admin("POST", "/admin/repayments/rq_stripe_0001/decision", {"decision": "approve"})
    assert code == 200, decided

    described = wait_for_execution(started["execution_arn"])
    output = json.loads(described["output"])
    assert output["outcome"] == "charged", output
    new_id = output["new_payment"]["provider_payment_id"]
    new = stripe_emulator.payment_intents[new_id]
    assert (new["status"], new["amount_received"], new["capture_method"]) == ("succeeded", 12000, "automatic")
    assert new["customer"] == stripe_emulator.payment_intents[original]["customer"]
    assert new["metadata"]["repayment_of"] == original
    assert new["metadata"]["repayment_request_id"] == "rq_stripe_0001"
    creates = [r for r in stripe_emulator.requests if r[:2] == ("POST", "/v1/payment_intents")]
    assert len(creates) == 1 and creates[0][2] is not None and creates[0][2].startswith("cardops-repayment-")
    stored = PaymentRepository().get("stripe", new_id)
    assert stored is not None and stored.status.value == "captured"


def test_no_reusable_stripe_card_is_named_and_nothing_is_charged(stripe_emulator: StripeEmulator) -> None:
    original = expired_stripe_original(stripe_emulator, keep_card=False)
    code, started = admin("POST", "/admin/repayments", stripe_body(original, "rq_stripe_0002"))
    assert code == 201, started
    output = json.loads(wait_for_execution(started["execution_arn"])["output"])
    assert output["outcome"] == "alternative_payment_required"
    assert output["reason"] == "card_not_reusable" and output["reasons"] == ["card_not_reusable"]
    assert not [r for r in stripe_emulator.requests if r[:2] == ("POST", "/v1/payment_intents")]
