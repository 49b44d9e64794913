"""Stripe webhook events (SPEC §1) mapped to canonical events, and what merging them gives."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from itertools import permutations
from typing import Any

import pytest

from cardops.payments.domain.payments import (
    CanonicalEvent,
    EventKind,
    PaymentFacts,
    PaymentStatus,
    RefundFact,
    apply_event,
    new_payment,
)
from cardops.payments.providers.stripe.events import (
    SUPPORTED_EVENT_TYPES,
    MalformedEvent,
    StripePaymentIntent,
    UnsupportedEvent,
    facts_from_payment_intent,
    parse_event,
    refund_total_key,
    to_canonical_event,
)

from . import stripe_payloads as sp

INTENT = "pi_3QzAbC2eZvKYlo2C0xyz9876"
CHARGE = "ch_3QzAbC2eZvKYlo2C0abc1234"
EVENT_TIME = datetime.fromtimestamp(sp.AUTHORIZED_AT + 5, tz=UTC)


def authorized() -> dict[str, Any]:
    return sp.event("payment_intent.amount_capturable_updated", sp.payment_intent(), event_id="evt_auth")


def succeeded(amount: int = 12000) -> dict[str, Any]:
    intent = sp.payment_intent(status="succeeded", amount_capturable=0, amount_received=amount)
    return sp.event("payment_intent.succeeded", intent, event_id="evt_capt")


def refunded(amount_refunded: int = 3000) -> dict[str, Any]:
    charge = sp.charge(captured=True, amount_captured=12000, amount_refunded=amount_refunded)
    return sp.event("charge.refunded", charge, event_id=f"evt_refund_{amount_refunded}")


def test_authorized_event() -> None:
    event = to_canonical_event(authorized())
    assert (event.provider, event.provider_payment_id, event.event_id) == ("stripe", INTENT, "evt_auth")
    assert event.kind is EventKind.AUTHORIZED
    assert event.occurred_at == EVENT_TIME
    assert event.facts.authorized_amount == 12000
    assert event.facts.currency == "JPY"
    assert event.facts.authorized_at == EVENT_TIME
    assert event.facts.status() is PaymentStatus.AUTHORIZED
    assert event.metadata.store_id == "store_042"
    assert event.metadata.visit_date == date(2025, 3, 5)
    assert event.metadata.mcc == "7230"


def test_captured_event_does_not_claim_the_capture_time_as_authorization_time() -> None:
    event = to_canonical_event(succeeded(8000))
    assert event.kind is EventKind.CAPTURED
    assert event.facts.captured_amount == 8000
    assert event.facts.captured_at == EVENT_TIME
    assert event.facts.authorized_at is None  # manual capture: authorized earlier
    assert event.facts.status() is PaymentStatus.CAPTURED


def test_automatic_capture_authorizes_and_captures_at_once() -> None:
    intent = sp.payment_intent(
        status="succeeded", capture_method="automatic", amount_capturable=0, amount_received=12000
    )
    event = to_canonical_event(sp.event("payment_intent.succeeded", intent))
    assert event.facts.authorized_at == event.facts.captured_at == EVENT_TIME


def test_canceled_by_us_is_canceled() -> None:
    intent = sp.payment_intent(status="canceled", amount_capturable=0, cancellation_reason="abandoned")
    event = to_canonical_event(sp.event("payment_intent.canceled", intent))
    assert event.kind is EventKind.CANCELED
    assert event.facts.canceled and not event.facts.expired
    assert event.facts.status() is PaymentStatus.CANCELED


@pytest.mark.parametrize("reason", ["automatic", "expired"])
def test_canceled_by_stripe_when_the_hold_lapsed_is_an_expiry(reason: str) -> None:
    intent = sp.payment_intent(status="canceled", amount_capturable=0, cancellation_reason=reason)
    event = to_canonical_event(sp.event("payment_intent.canceled", intent))
    assert event.kind is EventKind.AUTHORIZATION_EXPIRED
    assert event.facts.status() is PaymentStatus.EXPIRED_REFUNDED


def test_charge_refunded_records_the_total_under_the_charge_key() -> None:
    event = to_canonical_event(refunded(3000))
    assert event.kind is EventKind.REFUNDED
    assert event.provider_payment_id == INTENT
    assert dict(event.facts.refunds) == {refund_total_key(CHARGE): RefundFact(amount=3000, state="succeeded")}
    assert event.facts.captured_amount == 12000
    assert event.facts.status() is PaymentStatus.PARTIALLY_REFUNDED


def test_refund_updated_failed_counts_zero() -> None:
    failed = sp.refund(refund_id="re_failed", amount=3000, status="failed")
    event = to_canonical_event(sp.event("charge.refund.updated", failed))
    assert event.kind is EventKind.REFUND_UPDATED
    assert event.facts.refunds["re_failed"].state == "failed"
    assert event.facts.refunded_amount == 0


def test_refund_updated_succeeded_adds_no_amount_twice() -> None:
    """The total already came with charge.refunded; a per-refund amount would double count."""
    stream = [authorized(), succeeded(), refunded(3000), sp.event("charge.refund.updated", sp.refund())]
    facts = merged(stream)
    assert facts.refunded_amount == 3000


def test_dispute_created_then_closed_won() -> None:
    opened = to_canonical_event(sp.event("charge.dispute.created", sp.dispute(), event_id="evt_d1"))
    assert opened.kind is EventKind.DISPUTE_OPENED
    assert dict(opened.facts.disputes) == {CHARGE: "open"}
    closed = to_canonical_event(
        sp.event("charge.dispute.closed", sp.dispute(status="won"), event_id="evt_d2")
    )
    assert closed.kind is EventKind.DISPUTE_CLOSED
    facts = merged([succeeded(), sp.event("charge.dispute.created", sp.dispute())]).merge(closed.facts)
    assert facts.status() is PaymentStatus.CAPTURED


def test_dispute_lost_is_a_chargeback() -> None:
    facts = merged([succeeded(), sp.event("charge.dispute.closed", sp.dispute(status="lost"))])
    assert facts.status() is PaymentStatus.CHARGED_BACK


def test_dispute_closed_with_an_open_status_is_malformed() -> None:
    with pytest.raises(MalformedEvent):
        to_canonical_event(sp.event("charge.dispute.closed", sp.dispute(status="needs_response")))


def test_out_of_order_streams_end_in_the_in_order_state() -> None:
    stream = [authorized(), succeeded(), refunded(3000), refunded(12000)]
    expected = merged(stream)
    assert expected.status() is PaymentStatus.REFUNDED
    for order in permutations(stream):
        assert merged(list(order)) == expected
        assert merged(list(order) + list(order)) == expected  # duplicates change nothing


def test_a_late_authorization_does_not_reopen_a_refunded_payment() -> None:
    payment = None
    for raw in [succeeded(), refunded(12000), authorized()]:
        event = to_canonical_event(raw)
        payment = payment or new_payment(event)
        applied = apply_event(payment, event, now=EVENT_TIME)
        payment = applied.payment if applied else payment
    assert payment is not None and payment.status is PaymentStatus.REFUNDED


def test_the_webhook_and_the_api_agree_on_the_refund_key() -> None:
    """Facts from charge.refunded and from a re-fetch of the same charge merge without double counting."""
    fetched = StripePaymentIntent.model_validate(
        sp.payment_intent(
            status="succeeded",
            amount_received=12000,
            latest_charge=sp.charge(
                captured=True, amount_captured=12000, amount_refunded=3000, refunds=[sp.refund()]
            ),
        )
    )
    api = facts_from_payment_intent(fetched)
    webhook = to_canonical_event(refunded(3000)).facts
    assert api.merge(webhook).refunded_amount == 3000


def test_unsupported_type() -> None:
    with pytest.raises(UnsupportedEvent) as info:
        to_canonical_event(sp.event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert info.value.event_type == "customer.created"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "created": 1},
        sp.event("payment_intent.succeeded", {"id": "ch_1", "object": "charge"}),
        sp.event("payment_intent.succeeded", sp.payment_intent(metadata={"visit_date": "2025-02-30"})),
        sp.event("payment_intent.succeeded", sp.payment_intent(metadata={"accepted_at": "yesterday"})),
        sp.event("charge.refunded", sp.charge(intent_id="")),
        sp.event("charge.dispute.created", sp.dispute(intent_id=None)),
        sp.event("charge.dispute.created", sp.dispute(status="something_new")),
        {**sp.event("payment_intent.succeeded", sp.payment_intent()), "id": ""},
    ],
)
def test_malformed_events_raise_a_named_error(payload: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        to_canonical_event(payload)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1,2]", b"\xff\xfe", b'"event"'])
def test_parse_event_rejects_non_objects(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(raw)


def test_parse_event_reads_raw_bytes() -> None:
    event = parse_event(json.dumps(authorized()).encode())
    assert isinstance(event, CanonicalEvent) and event.kind is EventKind.AUTHORIZED


def test_naive_accepted_at_is_read_as_tokyo_time() -> None:
    intent = sp.payment_intent(metadata={"accepted_at": "2025-03-01T09:00:00"})
    event = to_canonical_event(sp.event("payment_intent.amount_capturable_updated", intent))
    assert event.metadata.accepted_at == datetime(2025, 3, 1, tzinfo=UTC)


def test_every_spec_event_type_is_supported() -> None:
    """SPEC §1's types, and the Refund object's own ``refund.updated``/``refund.failed`` (issue 12)."""
    assert set(SUPPORTED_EVENT_TYPES) - {"refund.updated", "refund.failed"} == {
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.canceled",
        "charge.refunded",
        "charge.refund.updated",
        "charge.dispute.created",
        "charge.dispute.closed",
    }


def merged(stream: list[dict[str, Any]]) -> PaymentFacts:
    facts = PaymentFacts()
    for raw in stream:
        facts = facts.merge(to_canonical_event(raw).facts)
    return facts


def _processed(raws: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
    """What processing stores: each event merged in turn, the deadline derived on every write."""
    from cardops.payments.use_cases.payment_events import with_deadline

    payment = None
    history = []
    for raw in raws:
        event = to_canonical_event(raw)
        current = payment or new_payment(event)
        applied = apply_event(current, event, now=EVENT_TIME)
        if applied is not None:
            payment = with_deadline(applied.payment)
            history.append(applied.history)
        else:
            payment = current
    return payment, history


def test_refund_succeeded_authorized_out_of_order_keeps_the_deadline_and_writes_no_empty_entry() -> None:
    """Issue 17 item 9: the deadline is known once the authorization time is, in any order, and
    an entry whose status does not move names what changed (never an empty ``X -> X``)."""
    stream = [sp.event("charge.refunded", sp.charge(captured=True, amount_captured=12000,
                                                    amount_refunded=3000, metadata=sp.METADATA),
                       event_id="evt_refund"), succeeded(), authorized()]  # fmt: skip
    in_order, _ = _processed([stream[2], stream[1], stream[0]])
    assert in_order.capture_deadline is not None and in_order.deadline_bound is not None
    for order in permutations(stream):
        payment, history = _processed(list(order))
        assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
        assert (payment.capture_deadline, payment.deadline_bound) == (
            in_order.capture_deadline,
            in_order.deadline_bound,
        ), [e["id"] for e in order]
        for entry in history:
            assert entry.changes, entry
        assert [e.seq for e in history] == list(range(1, len(history) + 1))


def test_a_replayed_event_writes_no_history() -> None:
    _, history = _processed([refunded(3000), succeeded(), refunded(3000), succeeded()])
    assert len(history) == 2
    assert history[1].from_status is PaymentStatus.PARTIALLY_REFUNDED
    assert history[1].to_status is PaymentStatus.PARTIALLY_REFUNDED
    assert "facts.captured_at" in history[1].changes


def test_a_later_capture_before_moves_the_deadline() -> None:
    """Issue 17 item 3 (Stripe): an authorization reported again with a later ``capture_before``
    (e.g. an extended hold) moves the deadline later, in whichever order the two reports arrive."""
    later = sp.CAPTURE_BEFORE + 20 * 86_400

    def report(capture_before: int, event_id: str) -> dict[str, Any]:
        charge = sp.charge(card=sp.card_details(capture_before=capture_before), metadata=sp.METADATA)
        intent = sp.payment_intent(latest_charge=charge, metadata={**sp.METADATA, "visit_date": "2025-03-25"})
        return sp.event("payment_intent.amount_capturable_updated", intent, event_id=event_id)

    first, moved = report(sp.CAPTURE_BEFORE, "evt_first"), report(later, "evt_moved")
    before, _ = _processed([first])
    assert before.facts.authorization_expires_at == datetime.fromtimestamp(sp.CAPTURE_BEFORE, tz=UTC)
    assert before.deadline_bound == "authorization"
    for order in ([first, moved], [moved, first]):
        after, history = _processed(order)
        assert after.facts.authorization_expires_at == datetime.fromtimestamp(later, tz=UTC)
        assert after.capture_deadline is not None and before.capture_deadline is not None
        assert after.capture_deadline > before.capture_deadline
    after, history = _processed([first, moved])
    assert history[-1].changes == ("facts.authorization_expires_at",)
