"""The refund use cases (SPEC §5) on the in-memory fakes: request, submission, refusal, the
stuck-refund sweep, corrections and provider-side refunds, without AWS or a provider."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cardops.ledger.domain.ledger import Channel
from cardops.payments.domain.payments import PaymentFacts, RefundFact
from cardops.payments.domain.refunds import Refund, RefundExceedsCapturedError, RefundReason, RefundStatus
from cardops.payments.use_cases.provider_refunds import provider_refund_listener, resubmit_stuck_refunds
from cardops.payments.use_cases.refunds import RefundSubmissionPendingError
from tests.builders import FINANCE, NOW, FakeRefundWorld

FEE = 470  # 4.7 % of 10,000 (the standard plan)


def request(
    world: FakeRefundWorld, amount: int, key: str = "k1", *, with_api: bool = True
) -> tuple[str, RefundStatus, bool]:
    refund, created = world.service(providers=None if with_api else {}).request(
        "payjp",
        "pay_1",
        amount=amount,
        reason=RefundReason.CUSTOMER_REQUEST,
        idempotency_key=key,
        now=NOW,
        actor=FINANCE,
    )
    return refund.refund_id, refund.status, created


def pending(world: FakeRefundWorld, amount: int) -> Refund:
    """A refund the provider did not answer: recorded, still ``requested``."""
    world.provider.fail["refund"] = ["transient"]
    with pytest.raises(RefundSubmissionPendingError):
        request(world, amount)
    [refund] = world.book.of_payment("payjp", "pay_1")
    return refund


def balance(world: FakeRefundWorld) -> int:
    return world.ledgers.load("store-1", Channel.STANDARD).ledger.balance


def test_a_refund_is_recorded_then_made_at_the_provider_with_its_id_as_key() -> None:
    world = FakeRefundWorld()
    world.captured()
    refund_id, status, created = request(world, 3000)
    assert (status, created) == (RefundStatus.SUCCEEDED, True)
    assert world.provider.calls == [
        ("refund", "pay_1", {"amount": 3000, "idempotency_key": refund_id, "reason": "customer_request"})
    ]
    assert world.book.remaining("payjp", "pay_1") == 7000
    assert balance(world) == -3000


def test_the_same_request_again_answers_the_same_refund_and_refunds_once() -> None:
    world = FakeRefundWorld()
    world.captured()
    first = request(world, 3000)
    assert request(world, 3000) == (first[0], RefundStatus.SUCCEEDED, False)
    assert world.provider.refunded == {"pay_1": 3000}
    assert balance(world) == -3000


def test_more_than_was_captured_is_refused_and_nothing_is_written() -> None:
    world = FakeRefundWorld()
    world.captured()
    request(world, 6000)
    with pytest.raises(RefundExceedsCapturedError):
        request(world, 4001, key="k2")
    assert world.book.remaining("payjp", "pay_1") == 4000
    assert len(world.book.of_payment("payjp", "pay_1")) == 1


def test_a_refusal_by_the_card_company_reverses_the_refund_and_alerts_finance() -> None:
    world = FakeRefundWorld()
    world.captured()
    world.provider.fail["refund"] = ["refused"]
    _, status, _ = request(world, 3000)
    assert status is RefundStatus.REJECTED
    assert world.book.remaining("payjp", "pay_1") == 10_000  # the ceiling is given back
    assert balance(world) == 0  # the debit is reversed
    assert [a.kind for a in world.alerts] == ["refund_rejected"]
    assert list(world.book.alerts) == [a.alert_id for a in world.alerts]


def test_an_unreachable_provider_leaves_the_refund_requested_and_the_sweep_makes_it_once() -> None:
    world = FakeRefundWorld()
    world.captured()
    stuck = pending(world, 3000)
    assert stuck.status is RefundStatus.REQUESTED
    assert balance(world) == -3000  # recorded: the money side does not wait for the provider

    assert resubmit_stuck_refunds(world.service(), now=NOW).examined == 0  # not stuck yet
    report = resubmit_stuck_refunds(world.service(), now=NOW + timedelta(hours=1))
    assert report.resubmitted == [stuck.refund_id]
    assert world.provider.refunded == {"pay_1": 3000}
    assert [k for _, _, k in world.provider.calls] == [
        {"amount": 3000, "idempotency_key": stuck.refund_id, "reason": "customer_request"}
    ] * 2


def test_a_provider_without_an_api_keeps_its_refunds_requested_for_finance() -> None:
    world = FakeRefundWorld()
    world.captured()
    _, status, _ = request(world, 1000, with_api=False)
    assert status is RefundStatus.REQUESTED
    report = resubmit_stuck_refunds(world.service(providers={}), now=NOW + timedelta(hours=1))
    assert (report.without_api, report.examined) == (1, 0)


def test_canceling_a_requested_refund_gives_the_money_and_the_ceiling_back() -> None:
    world = FakeRefundWorld()
    world.captured()
    refund = pending(world, 2500)
    canceled = world.service().cancel("payjp", "pay_1", refund.refund_id, now=NOW, actor=FINANCE)
    assert canceled.status is RefundStatus.CANCELED
    assert (world.book.remaining("payjp", "pay_1"), balance(world)) == (10_000, 0)


def test_a_refund_made_at_the_provider_is_recorded_once_with_an_alert() -> None:
    world = FakeRefundWorld()
    payment = world.captured()
    refunds = {"payjp:refunded": RefundFact(amount=1200, state="succeeded")}
    reported = payment.model_copy(update={"facts": payment.facts.merge(PaymentFacts(refunds=refunds))})
    for _ in range(2):  # the change delivered twice
        provider_refund_listener(world.service(providers={}), payment, reported, now=NOW)
    [recorded] = world.book.of_payment("payjp", "pay_1")
    assert (recorded.amount, recorded.source.value) == (1200, "provider")
    assert (world.book.remaining("payjp", "pay_1"), balance(world)) == (8800, -1200)
    assert [a.kind for a in world.alerts] == ["provider_refund"]
