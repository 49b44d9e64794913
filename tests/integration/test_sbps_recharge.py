"""Re-payment for SBPS originals (issue 12 items 3/5): the card SBPS keeps under the purchase's
``cust_code`` is found (or its absence named), and charged again under a purchase id derived from
the request, so no retry authorizes twice. Against the SBPS emulator; the originals' stored
payments are what cardops makes of the emulator's result notifications (the real parser)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cardops import resources
from cardops.kernel.config import Settings
from cardops.payments.domain.payments import Payment, PaymentMetadata, apply_event, new_payment
from cardops.payments.domain.repayment import repayment_idempotency_key
from cardops.payments.providers import registry
from cardops.payments.providers.base import PermanentProviderError, TransientProviderError
from cardops.payments.providers.sbps import notifications, protocol
from cardops.payments.providers.sbps.client import KnownPayment, SbpsClient
from cardops.payments.providers.sbps.recharge import SbpsRecharger, repayment_order_id
from cardops.sandbox.sbps_emulator import SbpsEmulator, StoredCard
from tests.integration import test_sbps_client
from tests.integration.test_sbps_client import api_settings

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])
#: the SBPS emulator of the client's tests (a fixture)
emulator = test_sbps_client.emulator
SECRETS = resources.SANDBOX_SECRETS
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
KEY = repayment_idempotency_key("rq_sbps_1")
VISIT = {"store_id": "store_r", "reservation_id": "rsv_r", "visit_date": "2026-03-01"}


def stored_payment(emulator: SbpsEmulator, order_id: str) -> Payment | None:
    """The payment cardops holds after the emulator's result notifications for ``order_id``."""
    payment: Payment | None = None
    for pairs in emulator.notifications:
        values = dict(pairs)
        if values["order_id"] != order_id:
            continue
        event = notifications.to_canonical(values)
        applied = apply_event(payment or new_payment(event), event, now=event.occurred_at)
        payment = applied.payment if applied is not None else payment
    return payment


def recharger_for(emulator: SbpsEmulator, **overrides: Any) -> SbpsRecharger:
    def known(order_id: str) -> KnownPayment | None:
        payment = stored_payment(emulator, order_id)
        if payment is None or not payment.metadata.provider_reference:
            return None
        return KnownPayment(payment.metadata.provider_reference, payment.facts.authorized_amount)

    client = SbpsClient(api_settings(emulator, **overrides), known=known, sleep=lambda _: None)
    return SbpsRecharger(client, lambda order_id: stored_payment(emulator, order_id), now=lambda: NOW)


def original(
    emulator: SbpsEmulator, order_id: str, *, cust_code: str = "", keep: StoredCard | None = None
) -> None:
    emulator.authorize(
        order_id, 12000, ("store_r", "rsv_r", "2026-03-01"), cust_code=cust_code, keep_card=keep
    )


def test_the_card_kept_under_the_purchases_customer_id_is_reusable(emulator: SbpsEmulator) -> None:
    original(emulator, "ord_kept", cust_code="cust_0001", keep=StoredCard(brand="J", expires="202712"))
    card = recharger_for(emulator).saved_card("ord_kept")
    assert (card.customer_id, card.reusable, card.brand) == ("cust_0001", True, "JCB")
    assert Settings(TABLE_NAME="unused").brand_allows_mit(card.brand)
    assert emulator.requests == [protocol.CUSTOMER_LOOKUP]


@pytest.mark.parametrize(
    ("cust_code", "keep", "customer_id"),
    [
        ("", None, None),  # the purchase named no customer
        ("cust_nokeep", None, "cust_nokeep"),  # a customer, but the card was not kept (cust_manage_flg 0)
        ("cust_old", StoredCard(expires="202602"), "cust_old"),  # kept, but expired before this month
    ],
)
def test_no_kept_card_is_not_reusable(
    emulator: SbpsEmulator, cust_code: str, keep: StoredCard | None, customer_id: str | None
) -> None:
    original(emulator, "ord_none", cust_code=cust_code, keep=keep)
    card = recharger_for(emulator).saved_card("ord_none")
    assert (card.customer_id, card.reusable) == (customer_id, False)


def test_the_charge_authorizes_commits_and_captures_once_under_the_derived_purchase_id(
    emulator: SbpsEmulator,
) -> None:
    original(emulator, "ord_orig", cust_code="cust_0002", keep=StoredCard())
    recharger = recharger_for(emulator)
    charged = recharger.charge(
        customer_id="cust_0002", amount=12000, currency="JPY", metadata=VISIT | {"repayment_of": "ord_orig"},
        idempotency_key=KEY,
    )  # fmt: skip
    order_id = repayment_order_id(KEY)
    assert len(order_id) <= 38 and charged.provider_payment_id == order_id
    assert charged.facts.captured_amount == charged.facts.authorized_amount == 12000
    at_sbps = emulator.payments[order_id]
    assert at_sbps.status == "2" and at_sbps.captured_amount == 12000 and at_sbps.cust_code == "cust_0002"
    assert [op["status"] for op in at_sbps.operations] == ["authorized", "captured"]
    assert emulator.requests == [protocol.AUTHORIZE, protocol.COMMIT, protocol.CAPTURE]
    assert charged.metadata == PaymentMetadata(
        store_id="store_r",
        reservation_id="rsv_r",
        visit_date=datetime(2026, 3, 1).date(),
        provider_reference=at_sbps.tracking_id,
        customer_reference="cust_0002",
    )
    assert at_sbps.free == ("store_r", "rsv_r", "2026-03-01")


def test_a_lost_answer_to_the_authorization_is_finished_not_authorized_again(emulator: SbpsEmulator) -> None:
    original(emulator, "ord_orig", cust_code="cust_0003", keep=StoredCard())
    emulator.faults.add("charge", "lost", 1)
    recharger = recharger_for(emulator, read_timeout=0.3)
    charged = recharger.charge(
        customer_id="cust_0003", amount=9000, currency="JPY", metadata=VISIT, idempotency_key=KEY
    )
    assert charged.facts.captured_amount == 9000
    repayments = [
        p for p in emulator.payments.values() if p.cust_code == "cust_0003" and p.order_id != "ord_orig"
    ]
    assert [p.order_id for p in repayments] == [repayment_order_id(KEY)]
    assert [op["status"] for op in repayments[0].operations] == ["authorized", "captured"]
    # the resent authorization is refused as a duplicate (96/004), then looked up and finished
    assert emulator.requests == [
        protocol.AUTHORIZE, protocol.AUTHORIZE, protocol.LOOKUP, protocol.COMMIT, protocol.CAPTURE,
    ]  # fmt: skip


def test_a_system_error_is_retried_and_a_rerun_of_the_step_charges_nothing_more(
    emulator: SbpsEmulator,
) -> None:
    original(emulator, "ord_orig", cust_code="cust_0004", keep=StoredCard())
    emulator.faults.add("charge", "system_error", 1)
    recharger = recharger_for(emulator)
    first = recharger.charge(
        customer_id="cust_0004", amount=5000, currency="JPY", metadata=VISIT, idempotency_key=KEY
    )
    # the workflow's step runs again (its answer was lost): the same purchase id, nothing new at SBPS
    again = recharger.charge(
        customer_id="cust_0004", amount=5000, currency="JPY", metadata=VISIT, idempotency_key=KEY
    )
    assert again.provider_payment_id == first.provider_payment_id
    assert again.metadata.provider_reference == first.metadata.provider_reference
    at_sbps = emulator.payments[repayment_order_id(KEY)]
    assert [op["status"] for op in at_sbps.operations] == ["authorized", "captured"]
    assert emulator.requests[-2:] == [protocol.AUTHORIZE, protocol.LOOKUP]  # captured: no capture


def test_a_duplicate_whose_notification_has_not_arrived_is_transient(emulator: SbpsEmulator) -> None:
    original(emulator, "ord_orig", cust_code="cust_0005", keep=StoredCard())
    recharger = recharger_for(emulator)
    recharger.charge(
        customer_id="cust_0005", amount=5000, currency="JPY", metadata=VISIT, idempotency_key=KEY
    )
    recharger.client._known = lambda _: None  # SBPS holds it; cardops has not heard of it yet
    with pytest.raises(TransientProviderError) as pending:
        recharger.charge(
            customer_id="cust_0005", amount=5000, currency="JPY", metadata=VISIT, idempotency_key=KEY
        )
    assert pending.value.code == "unknown_tracking_id"


def test_a_card_no_longer_kept_is_a_refusal(emulator: SbpsEmulator) -> None:
    original(emulator, "ord_orig", cust_code="cust_0006", keep=StoredCard())
    emulator.customers.clear()  # deleted at SBPS between the approval and the charge
    with pytest.raises(PermanentProviderError) as refused:
        recharger_for(emulator).charge(
            customer_id="cust_0006", amount=5000, currency="JPY", metadata=VISIT, idempotency_key=KEY
        )
    assert refused.value.code == "10103200"
    assert repayment_order_id(KEY) not in emulator.payments


def test_the_plugin_has_no_recharger_without_the_stored_payments() -> None:
    """The customer id is what cardops stored: without the payments there is nothing to charge."""
    assert registry.recharger("sbps") is None
