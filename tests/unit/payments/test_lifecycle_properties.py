"""SPEC §2: any permutation or duplication of a payment's events ends in the in-order state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cardops.payments.domain.payments import (
    CanonicalEvent,
    EventKind,
    Payment,
    PaymentFacts,
    PaymentStatus,
    RefundFact,
    apply_event,
    new_payment,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def ev(n: int, kind: EventKind, **facts: object) -> CanonicalEvent:
    return CanonicalEvent(
        provider="stripe",
        provider_payment_id="pi_1",
        event_id=f"evt_{n}",
        kind=kind,
        occurred_at=T0 + timedelta(minutes=n),
        facts=PaymentFacts.model_validate({"currency": "JPY", **facts}),
    )


@st.composite
def streams(draw: st.DrawFn) -> list[CanonicalEvent]:
    """A plausible in-order stream of one payment's provider events."""
    amount = draw(st.integers(min_value=100, max_value=1_000_000))
    events = [ev(0, EventKind.AUTHORIZED, authorized_amount=amount, authorized_at=T0)]
    ending = draw(st.sampled_from(["capture", "cancel", "expire", "fail", "open"]))
    if ending == "cancel":
        return [*events, ev(1, EventKind.CANCELED, canceled=True)]
    if ending == "expire":
        return [*events, ev(1, EventKind.AUTHORIZATION_EXPIRED, expired=True)]
    if ending == "fail":
        return [ev(0, EventKind.FAILED, failed=True, failure_code="card_declined")]
    if ending == "open":
        return events
    captured = draw(st.integers(min_value=1, max_value=amount))
    events.append(ev(1, EventKind.CAPTURED, captured_amount=captured))
    refunded = 0
    for i in range(draw(st.integers(0, 3))):
        part = draw(st.integers(min_value=1, max_value=max(1, captured)))
        if refunded + part > captured:
            break
        refunded += part
        refund_id = f"re_{i}"
        events.append(
            ev(2 + i, EventKind.REFUNDED, refunds={refund_id: RefundFact(amount=part, state="pending")})
        )
        final = draw(st.sampled_from(["succeeded", "failed", "pending"]))
        events.append(
            ev(10 + i, EventKind.REFUND_UPDATED, refunds={refund_id: RefundFact(amount=part, state=final)})
        )
    dispute = draw(st.sampled_from([None, "won", "lost", "open"]))
    if dispute:
        events.append(ev(20, EventKind.DISPUTE_OPENED, disputes={"dp_1": "open"}))
        if dispute != "open":
            events.append(ev(21, EventKind.DISPUTE_CLOSED, disputes={"dp_1": dispute}))
    return events


def run(events: list[CanonicalEvent]) -> Payment:
    payment = new_payment(events[0])
    for event in events:
        applied = apply_event(payment, event, now=event.occurred_at)
        if applied is not None:
            assert applied.payment.version == payment.version + 1
            payment = applied.payment
    return payment


@settings(max_examples=300, deadline=None)
@given(data=st.data(), stream=streams())
def test_any_permutation_with_duplicates_ends_in_the_in_order_state(
    data: st.DataObject, stream: list[CanonicalEvent]
) -> None:
    in_order = run(stream)
    duplicated = stream + data.draw(st.lists(st.sampled_from(stream), max_size=len(stream) * 2))
    shuffled = data.draw(st.permutations(duplicated))
    other = run(list(shuffled))
    assert other.status == in_order.status
    assert other.facts == in_order.facts


@settings(max_examples=200, deadline=None)
@given(stream=streams())
def test_replaying_the_stream_changes_nothing(stream: list[CanonicalEvent]) -> None:
    payment = run(stream)
    for event in stream:
        assert apply_event(payment, event, now=T0) is None


def test_terminal_state_is_not_left_by_a_stale_event() -> None:
    stream = [
        ev(0, EventKind.AUTHORIZED, authorized_amount=5000, authorized_at=T0),
        ev(1, EventKind.CAPTURED, captured_amount=5000),
        ev(2, EventKind.REFUNDED, refunds={"re_1": RefundFact(amount=5000, state="succeeded")}),
    ]
    payment = run(stream)
    assert payment.status == PaymentStatus.REFUNDED
    for stale in (stream[0], stream[1], ev(9, EventKind.UPDATED, authorized_amount=5000)):
        assert apply_event(payment, stale, now=T0) is None


def test_capture_before_authorization_converges() -> None:
    auth = ev(0, EventKind.AUTHORIZED, authorized_amount=8000, authorized_at=T0)
    capture = ev(1, EventKind.CAPTURED, captured_amount=6000)
    assert run([capture, auth]).status == run([auth, capture]).status == PaymentStatus.CAPTURED
    assert run([capture, auth]).facts.captured_amount == 6000


def test_history_records_who_when_from_and_to() -> None:
    stream = [
        ev(0, EventKind.AUTHORIZED, authorized_amount=100, authorized_at=T0),
        ev(1, EventKind.CAPTURED, captured_amount=100),
    ]
    payment = new_payment(stream[0])
    entries = []
    for event in stream:
        applied = apply_event(payment, event, now=event.occurred_at)
        assert applied is not None
        entries.append(applied.history)
        payment = applied.payment
    assert [(e.from_status, e.to_status) for e in entries] == [
        (None, PaymentStatus.AUTHORIZED),
        (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED),
    ]
    assert [e.event_id for e in entries] == ["evt_0", "evt_1"]
    assert entries[1].at == T0 + timedelta(minutes=1)


def test_refund_failing_after_success_reverses_the_refund() -> None:
    stream = [
        ev(0, EventKind.AUTHORIZED, authorized_amount=5000, authorized_at=T0),
        ev(1, EventKind.CAPTURED, captured_amount=5000),
        ev(2, EventKind.REFUNDED, refunds={"re_1": RefundFact(amount=2000, state="succeeded")}),
    ]
    assert run(stream).status == PaymentStatus.PARTIALLY_REFUNDED
    failed = ev(3, EventKind.REFUND_UPDATED, refunds={"re_1": RefundFact(amount=2000, state="failed")})
    payment = run([*stream, failed])
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.facts.refunded_amount == 0
