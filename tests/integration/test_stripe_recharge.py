"""Re-payment for Stripe originals (issue 12 item 3): the saved customer/payment method is found, or
its absence named; the charge is off-session and captured at once. Against the Stripe emulator, the
originals made with the official library as a booking system makes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from pydantic import SecretStr

from cardops.kernel.config import Settings
from cardops.payments.providers.base import PermanentProviderError
from cardops.payments.providers.stripe.client import API_VERSION, StripeClient, StripeSettings
from cardops.payments.providers.stripe.recharge import StripeRecharger
from cardops.sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def _rules() -> Settings:
    """The re-payment rules as configured by default (no stack: the table is not used here)."""
    return Settings(TABLE_NAME="unused")


SECRET = "sk_test_stripe_recharge"


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    emu = StripeEmulator(secret_key=SECRET)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def sdk(emulator: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET, base_addresses={"api": emulator.url}, stripe_version=API_VERSION)


@pytest.fixture
def recharger(emulator: StripeEmulator) -> StripeRecharger:
    settings = StripeSettings(api_key=SecretStr(SECRET), base_url=emulator.url, max_retries=0)
    return StripeRecharger(StripeClient(settings))


def original(
    sdk: stripe.StripeClient, *, customer: str | None, pm: str = "pm_card_visa"
) -> stripe.PaymentIntent:
    params: Any = {
        "amount": 12000,
        "currency": "jpy",
        "capture_method": "manual",
        "payment_method": pm,
        "confirm": True,
        "metadata": {"store_id": "store_r", "reservation_id": "rsv_r"},
    }
    if customer:
        params |= {"customer": customer, "setup_future_usage": "off_session"}
    intent = sdk.v1.payment_intents.create(params=params)
    return sdk.v1.payment_intents.cancel(intent.id)  # the lapsed authorization, released


def test_the_original_card_attached_to_its_customer_is_reusable(
    sdk: stripe.StripeClient, recharger: StripeRecharger
) -> None:
    customer = sdk.v1.customers.create(params={"email": "guest@example.jp"})
    first = original(sdk, customer=customer.id)
    card = recharger.saved_card(first.id)
    assert (card.customer_id, card.reusable, card.payment_method_id) == (
        customer.id,
        True,
        first.payment_method,
    )
    assert card.brand == "Visa" and _rules().brand_allows_mit(card.brand)


def test_an_amex_card_is_named_as_the_mit_brand_list_names_it(
    sdk: stripe.StripeClient, recharger: StripeRecharger
) -> None:
    customer = sdk.v1.customers.create(params={})
    card = recharger.saved_card(original(sdk, customer=customer.id, pm="pm_card_amex").id)
    assert card.brand == "American Express" and _rules().brand_allows_mit(card.brand)


def test_an_original_without_a_customer_is_not_reusable(
    sdk: stripe.StripeClient, recharger: StripeRecharger
) -> None:
    card = recharger.saved_card(original(sdk, customer=None).id)
    assert (card.customer_id, card.reusable, card.payment_method_id) == (None, False, None)


def test_a_detached_card_is_not_reusable(
    sdk: stripe.StripeClient, recharger: StripeRecharger, emulator: StripeEmulator
) -> None:
    customer = sdk.v1.customers.create(params={})
    first = original(sdk, customer=customer.id)
    emulator.detach_all(customer.id)
    card = recharger.saved_card(first.id)
    assert (card.customer_id, card.reusable, card.payment_method_id) == (customer.id, False, None)


def test_the_customers_default_card_stands_in_for_a_detached_original_card(
    sdk: stripe.StripeClient, recharger: StripeRecharger, emulator: StripeEmulator
) -> None:
    customer = sdk.v1.customers.create(params={})
    first = original(sdk, customer=customer.id)
    emulator.detach_all(customer.id)
    replacement = sdk.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer.id})
    sdk.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": replacement.id}}
    )
    card = recharger.saved_card(first.id)
    assert (card.reusable, card.payment_method_id, card.brand) == (True, replacement.id, "Mastercard")


def test_the_charge_is_off_session_captured_and_linked(
    sdk: stripe.StripeClient, recharger: StripeRecharger, emulator: StripeEmulator
) -> None:
    customer = sdk.v1.customers.create(params={})
    first = original(sdk, customer=customer.id)
    card = recharger.saved_card(first.id)
    assert card.customer_id is not None
    charged = recharger.charge(
        customer_id=card.customer_id,
        payment_method_id=card.payment_method_id,
        amount=12000,
        currency="JPY",
        metadata={"repayment_of": first.id, "store_id": "store_r"},
        idempotency_key="cardops-repayment-test",
    )
    assert charged.facts.captured_amount == 12000 and charged.provider_payment_id != first.id
    intent = emulator.payment_intents[charged.provider_payment_id]
    assert intent["metadata"]["repayment_of"] == first.id and intent["customer"] == customer.id
    assert emulator.requests[-1][2] == "cardops-repayment-test"


def test_a_charge_without_a_payment_method_is_refused_by_name(recharger: StripeRecharger) -> None:
    with pytest.raises(PermanentProviderError) as refused:
        recharger.charge(
            customer_id="cus_1",
            amount=100,
            currency="JPY",
            metadata={},
            idempotency_key="k",
            payment_method_id=None,
        )
    assert refused.value.code == "card_not_reusable"


def test_a_card_that_needs_the_customer_is_a_permanent_refusal(
    sdk: stripe.StripeClient, recharger: StripeRecharger
) -> None:
    customer = sdk.v1.customers.create(params={})
    card = recharger.saved_card(original(sdk, customer=customer.id, pm="pm_card_authenticationRequired").id)
    assert card.customer_id is not None and card.reusable
    with pytest.raises(PermanentProviderError) as refused:
        recharger.charge(
            customer_id=card.customer_id,
            payment_method_id=card.payment_method_id,
            amount=12000,
            currency="JPY",
            metadata={},
            idempotency_key="k-auth",
        )
    assert (refused.value.code, refused.value.status) == ("authentication_required", 402)
