"""The Stripe emulator driven by the official ``stripe`` library (issue 12 item 4): the library's
typed objects and errors must come out, and every webhook must verify with the library's own
``Webhook.construct_event``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from cardops.sandbox.stripe_emulator import API_VERSION, SPEC_EVENT_TYPES, StripeEmulator, parse_form
from tests.integration.conftest import Receiver

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

SECRET = "sk_test_stripe_emulator_tests"
WEBHOOK_SECRET = "whsec_emulator_tests"
METADATA = {"store_id": "store_e", "reservation_id": "rsv_e", "visit_date": "2026-12-10"}


@pytest.fixture
def emulator(receiver: Receiver) -> Iterator[StripeEmulator]:
    emu = StripeEmulator(
        secret_key=SECRET, webhook_url=f"{receiver.server.url}/webhooks/stripe", webhook_secret=WEBHOOK_SECRET
    )
    emu.start()
    yield emu
    emu.stop()


def client(emu: StripeEmulator, *, key: str = SECRET, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": emu.url},
        stripe_version=API_VERSION,
        max_network_retries=retries,
    )


def saved_card(api: stripe.StripeClient, pm: str = "pm_card_visa") -> tuple[str, str]:
    customer = api.v1.customers.create(params={"email": "guest@example.jp", "payment_method": pm})
    default = customer.invoice_settings.default_payment_method if customer.invoice_settings else None
    assert isinstance(default, str)
    return customer.id, default


def authorize(
    api: stripe.StripeClient, amount: int = 12000, pm: str = "pm_card_visa"
) -> stripe.PaymentIntent:
    return api.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "jpy",
            "capture_method": "manual",
            "payment_method": pm,
            "confirm": True,
            "metadata": METADATA,
        }
    )


def test_an_authorization_is_captured_in_part_and_the_library_reads_it(emulator: StripeEmulator) -> None:
    api = client(emulator)
    intent = authorize(api)
    assert intent.status == "requires_capture" and intent.amount_capturable == 12000
    fetched = api.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    charge = fetched.latest_charge
    assert isinstance(charge, stripe.Charge)
    card = charge.payment_method_details.card if charge.payment_method_details else None
    assert card is not None and card.capture_before == charge.created + 7 * 86400
    assert fetched.metadata is not None and fetched.metadata.to_dict() == METADATA

    captured = api.v1.payment_intents.capture(
        intent.id, params={"amount_to_capture": 9000}, options={"idempotency_key": "cap-1"}
    )
    assert (captured.status, captured.amount_received, captured.amount_capturable) == ("succeeded", 9000, 0)
    with pytest.raises(stripe.InvalidRequestError) as again:
        api.v1.payment_intents.capture(intent.id, options={"idempotency_key": "cap-2"})
    assert again.value.code == "payment_intent_unexpected_state" and again.value.http_status == 400


def test_refunds_are_bounded_by_the_captured_amount(emulator: StripeEmulator) -> None:
    api = client(emulator)
    intent = authorize(api)
    api.v1.payment_intents.capture(intent.id, options={"idempotency_key": "cap"})
    refund = api.v1.refunds.create(
        params={"payment_intent": intent.id, "amount": 4000, "reason": "requested_by_customer"},
        options={"idempotency_key": "re-1"},
    )
    assert (refund.status, refund.amount, refund.payment_intent) == ("succeeded", 4000, intent.id)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        api.v1.refunds.create(
            params={"payment_intent": intent.id, "amount": 9000}, options={"idempotency_key": "re-2"}
        )
    assert too_much.value.code == "amount_too_large" and too_much.value.param == "amount"
    expanded = api.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge.refunds"]})
    charge = expanded.latest_charge
    assert isinstance(charge, stripe.Charge) and charge.amount_refunded == 4000
    assert charge.refunds is not None and [r.id for r in charge.refunds.data] == [refund.id]


def test_cancel_releases_the_authorization(emulator: StripeEmulator) -> None:
    api = client(emulator)
    intent = authorize(api)
    canceled = api.v1.payment_intents.cancel(
        intent.id, params={"cancellation_reason": "abandoned"}, options={"idempotency_key": "cancel-1"}
    )
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    with pytest.raises(stripe.InvalidRequestError) as late:
        api.v1.payment_intents.capture(intent.id, options={"idempotency_key": "cap-late"})
    assert late.value.code == "payment_intent_unexpected_state"


def test_the_same_key_and_params_replay_and_other_params_are_an_idempotency_error(
    emulator: StripeEmulator,
) -> None:
    api = client(emulator)
    params: Any = {"amount": 5000, "currency": "jpy", "payment_method": "pm_card_visa", "confirm": True}
    first = api.v1.payment_intents.create(params=params, options={"idempotency_key": "same"})
    second = api.v1.payment_intents.create(params=params, options={"idempotency_key": "same"})
    assert first.id == second.id and len(emulator.payment_intents) == 1
    assert second.last_response is not None
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    with pytest.raises(stripe.IdempotencyError) as conflict:
        api.v1.payment_intents.create(params={**params, "amount": 5001}, options={"idempotency_key": "same"})
    assert conflict.value.http_status == 400 and "same parameters" in str(conflict.value.user_message)
    assert conflict.value.error is not None and conflict.value.error.type == "idempotency_error"


def test_a_declined_card_is_a_card_error_naming_the_payment_intent(emulator: StripeEmulator) -> None:
    api = client(emulator)
    with pytest.raises(stripe.CardError) as declined:
        authorize(api, pm="pm_card_chargeDeclinedInsufficientFunds")
    error = declined.value.error
    assert declined.value.http_status == 402 and declined.value.code == "card_declined"
    assert error is not None and error.decline_code == "insufficient_funds"
    assert error.payment_intent is not None and error.payment_intent.status == "requires_payment_method"


def test_off_session_charge_on_a_saved_card(emulator: StripeEmulator) -> None:
    api = client(emulator)
    customer, pm = saved_card(api)
    charged = api.v1.payment_intents.create(
        params={
            "amount": 12000,
            "currency": "jpy",
            "customer": customer,
            "payment_method": pm,
            "off_session": True,
            "confirm": True,
            "metadata": {"repayment_of": "pi_original"},
        },
        options={"idempotency_key": "repay-1"},
    )
    assert (charged.status, charged.amount_received, charged.customer) == ("succeeded", 12000, customer)
    fetched = api.v1.customers.retrieve(
        customer, params={"expand": ["invoice_settings.default_payment_method"]}
    )
    default = fetched.invoice_settings.default_payment_method if fetched.invoice_settings else None
    assert isinstance(default, stripe.PaymentMethod) and default.card is not None
    assert default.card.brand == "visa"


def test_off_session_needing_authentication_is_refused(emulator: StripeEmulator) -> None:
    api = client(emulator)
    customer, pm = saved_card(api, "pm_card_authenticationRequired")
    with pytest.raises(stripe.CardError) as refused:
        api.v1.payment_intents.create(
            params={
                "amount": 3000,
                "currency": "jpy",
                "customer": customer,
                "payment_method": pm,
                "off_session": True,
                "confirm": True,
            }
        )
    assert refused.value.code == "authentication_required"


def test_a_server_error_fault_is_retried_by_the_library_with_the_same_key(emulator: StripeEmulator) -> None:
    api = client(emulator, retries=2)
    intent = authorize(api)
    emulator.set_fault("capture", "server_error", 1)
    captured = api.v1.payment_intents.capture(intent.id, options={"idempotency_key": "cap-fault"})
    assert captured.status == "succeeded"
    keys = [k for m, p, k in emulator.requests if p.endswith("/capture")]
    assert keys == ["cap-fault", "cap-fault"]


def test_rate_limit_and_auth_errors_are_the_librarys_types(emulator: StripeEmulator) -> None:
    api = client(emulator)
    emulator.set_fault("retrieve", "rate_limit", 1)
    with pytest.raises(stripe.RateLimitError):
        api.v1.payment_intents.retrieve("pi_anything")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        api.v1.payment_intents.retrieve("pi_missing")
    assert missing.value.code == "resource_missing" and missing.value.http_status == 404
    with pytest.raises(stripe.AuthenticationError):
        client(emulator, key="sk_test_wrong").v1.payment_intents.retrieve("pi_missing")


def test_every_spec_event_type_is_delivered_signed_as_stripe_signs(
    emulator: StripeEmulator, receiver: Receiver
) -> None:
    api = client(emulator)
    captured = authorize(api)  # payment_intent.amount_capturable_updated
    api.v1.payment_intents.capture(captured.id, options={"idempotency_key": "c"})  # .succeeded
    api.v1.refunds.create(params={"payment_intent": captured.id, "amount": 100})  # charge.refunded
    failing = authorize(api, pm="pm_card_refundFail")
    api.v1.payment_intents.capture(failing.id)
    api.v1.refunds.create(params={"payment_intent": failing.id})  # charge.refund.updated (failed)
    dispute = emulator.open_dispute(str(captured.latest_charge))  # charge.dispute.created
    emulator.close_dispute(dispute["id"], "lost")  # charge.dispute.closed
    api.v1.payment_intents.cancel(authorize(api).id)  # payment_intent.canceled
    emulator.expire_payment_intent(authorize(api).id)  # canceled, reason automatic
    emulator.wait_for_deliveries()

    events = [
        stripe.Webhook.construct_event(body, header, WEBHOOK_SECRET) for body, header in receiver.deliveries
    ]
    assert {e.type for e in events} == SPEC_EVENT_TYPES
    assert all(e.api_version == API_VERSION for e in events)
    expired = [
        e for e in events if e.type == "payment_intent.canceled" and e.data.object["cancellation_reason"]
    ]
    assert [e.data.object["cancellation_reason"] for e in expired] == ["automatic"]
    failed = next(e for e in events if e.type == "charge.refund.updated")
    assert failed.data.object["status"] == "failed"
    with pytest.raises(stripe.SignatureVerificationError):
        body, header = receiver.deliveries[0]
        stripe.Webhook.construct_event(body, header, "whsec_someone_else")


def test_events_outside_the_subscription_are_not_delivered(
    emulator: StripeEmulator, receiver: Receiver
) -> None:
    api = client(emulator)
    with pytest.raises(stripe.CardError):
        authorize(api, pm="pm_card_chargeDeclined")
    emulator.wait_for_deliveries()
    assert receiver.deliveries == []


def test_the_form_parser_reads_stripes_nesting() -> None:
    assert parse_form(
        [
            ("amount", "100"),
            ("metadata[store_id]", "s1"),
            ("expand[0]", "latest_charge"),
            ("expand[1]", "latest_charge.refunds"),
            ("payment_method_types[]", "card"),
            ("card[token]", "tok_visa"),
            ("payment_method_options[card][request_three_d_secure]", "any"),
        ]
    ) == {
        "amount": "100",
        "metadata": {"store_id": "s1"},
        "expand": ["latest_charge", "latest_charge.refunds"],
        "payment_method_types": ["card"],
        "card": {"token": "tok_visa"},
        "payment_method_options": {"card": {"request_three_d_secure": "any"}},
    }
    assert json.loads(json.dumps(parse_form([]))) == {}


def test_the_emulator_speaks_the_version_and_events_cardops_expects() -> None:
    """The endpoint's subscription is SPEC §1's list, which cardops maps (with the Refund object's own
    ``refund.updated``/``refund.failed``, which a live endpoint may also send); one API version."""
    from cardops.payments.providers.stripe.client import API_VERSION as CLIENT_VERSION
    from cardops.payments.providers.stripe.events import SUPPORTED_EVENT_TYPES

    assert set(SUPPORTED_EVENT_TYPES) - {"refund.updated", "refund.failed"} == SPEC_EVENT_TYPES
    assert CLIENT_VERSION == API_VERSION
