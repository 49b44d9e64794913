"""Refunds made at the provider become refund records; stuck refunds are repaired (issue 11 item 3).

PAY.JP's emulator plays the dashboard (``refund_charge`` called directly, not through cardops); the
processor runs under its own IAM role and applies the re-fetched charge, as in production.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from cardops.kernel import clock
from cardops.payments.wiring import refund_service
from cardops.sandbox.lambda_runner import FakeContext
from tests.builders import refund_service_on_moto
from tests.helpers import call, drain_changes, sqs_event
from tests.integration.ledger.test_refund_provider import captured_payment as captured_at_payjp
from tests.integration.ledger.test_refund_provider import payjp_message, refund

STORE = "store_refund"
FEE_10000 = 470


def captured_payment(emulator: Any, amount: int = 10_000) -> str:
    """A PAY.JP capture recorded, and its sale and fee posted by the change feed."""
    charge_id = captured_at_payjp(emulator, amount)
    drain_changes()
    return charge_id


def process(charge_id: str, event_type: str = "charge.refunded") -> None:
    from cardops.handlers import processor

    result = processor.handler(sqs_event(payjp_message(charge_id, event_type)), FakeContext("processor"))
    assert result == {"batchItemFailures": []}
    drain_changes()  # the change feed runs the listeners (the provider-refund sync among them)


def refunds_of(charge_id: str) -> list[dict[str, Any]]:
    from cardops.handlers import admin

    status, body = call(admin.handler, "GET", f"/admin/payments/payjp/{charge_id}/refunds")
    assert status == 200, body
    refunds: list[dict[str, Any]] = body["refunds"] if isinstance(body, dict) else body
    return refunds


def balance(store: str = STORE) -> int:
    from cardops.handlers import admin

    status, body = call(admin.handler, "GET", f"/admin/stores/{store}/balance")
    assert status == 200, body
    return int(sum(row["balance"] for row in body["ledgers"]))


def alerts(provisioned: Any) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="ap-northeast-1")
    messages = sqs.receive_message(QueueUrl=provisioned.operator_queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    )
    return [json.loads(m["Body"]) for m in messages]


def test_a_dashboard_refund_becomes_a_provider_refund_once(emulator: Any, provisioned: Any) -> None:
    charge_id = captured_payment(emulator, 10_000)
    emulator.refund_charge(charge_id, {"amount": "4000"})  # made in PAY.JP's dashboard
    process(charge_id)
    process(charge_id)  # the same event redelivered: nothing more
    [made] = refunds_of(charge_id)
    assert (made["source"], made["status"], made["amount"]) == ("provider", "succeeded", 4000)
    assert balance() == 10_000 - FEE_10000 - 4000
    finance = [a for a in alerts(provisioned) if a.get("type") == "finance_alert"]
    assert [a["alert"]["kind"] for a in finance] == ["provider_refund"]
    # the ceiling knows: only 6,000 is left to refund through cardops
    assert refund(charge_id, 6001)[0] >= 400
    status, body = refund(charge_id, 6000)
    assert status in (200, 201) and body["status"] == "succeeded", body
    process(charge_id)  # PAY.JP now reports 10,000 refunded: all explained
    assert sorted(r["source"] for r in refunds_of(charge_id)) == ["cardops", "provider"]
    assert balance() == 10_000 - FEE_10000 - 10_000


def test_out_of_order_reports_end_with_the_providers_total(provisioned: Any) -> None:
    """A later running total before an earlier one, and the reverse, end with the same refunds."""
    from cardops.ledger.store import RefundStore
    from cardops.payments.domain.payments import CanonicalEvent, EventKind, PaymentFacts, RefundFact
    from cardops.payments.store.payments import PaymentRepository
    from cardops.payments.use_cases.payment_events import apply_canonical
    from tests.integration.ledger.conftest import capture_payment

    def total(payment_id: str, amount: int) -> CanonicalEvent:
        return CanonicalEvent(
            provider="sandbox",
            provider_payment_id=payment_id,
            event_id=f"evt_{payment_id}_{amount}",
            kind=EventKind.REFUNDED,
            occurred_at=clock.now(),
            facts=PaymentFacts(
                refunds={"sandbox:amount_refunded": RefundFact(amount=amount, state="succeeded")}
            ),
        )

    for payment_id, order in (("pay_later_first", (3000, 1000)), ("pay_earlier_first", (1000, 3000))):
        capture_payment(payment_id=payment_id, store_id="store-ooo")
        for amount in (*order, *order):  # and each one duplicated
            apply_canonical(total(payment_id, amount), PaymentRepository(), now=clock.now())
            drain_changes()  # the change feed runs the provider-refund listener
        made = RefundStore().of_payment("sandbox", payment_id)
        assert sum(r.amount for r in made) == 3000, (payment_id, [r.amount for r in made])
        assert all(r.source.value == "provider" for r in made)
    assert balance("store-ooo") == 2 * (10_000 - FEE_10000 - 3000)


def test_a_run_that_read_an_older_total_cannot_record_it_again(provisioned: Any, monkeypatch: Any) -> None:
    """Two runs read different totals: the provider-level condition stops the second from doubling."""
    from cardops.ledger.store import RefundStore
    from cardops.payments.domain.payments import PaymentFacts, RefundFact
    from tests.integration.ledger.conftest import capture_payment

    payment = capture_payment(payment_id="pay_race", store_id="store-race").payment

    def reporting(amount: int) -> Any:
        refunds = {"sandbox:amount_refunded": RefundFact(amount=amount, state="succeeded")}
        return payment.model_copy(update={"facts": payment.facts.merge(PaymentFacts(refunds=refunds))})

    assert refund_service_on_moto(providers={}, publish=lambda _: None).sync_provider_refunds(
        reporting(1000), now=clock.now()
    )
    store = RefundStore()
    real = store.of_payment
    stale = [[]]  # the second run read the refunds before the first one wrote

    def of_payment(provider: str, payment_id: str) -> Any:
        return stale.pop() if stale else real(provider, payment_id)

    monkeypatch.setattr(store, "of_payment", of_payment)
    refund_service_on_moto(refunds=store, providers={}, publish=lambda _: None).sync_provider_refunds(
        reporting(3000), now=clock.now()
    )
    assert sorted(r.amount for r in real("sandbox", "pay_race")) == [1000, 2000]
    assert balance("store-race") == 10_000 - FEE_10000 - 3000


@pytest.mark.parametrize("crash", ["before_the_provider_call", "after_the_provider_call"])
def test_a_stuck_refund_is_repaired_by_the_sweep_with_the_same_key(
    emulator: Any, monkeypatch: Any, crash: str
) -> None:
    from cardops.payments.domain.refunds import RefundReason
    from cardops.payments.use_cases.provider_refunds import resubmit_stuck_refunds
    from cardops.payments.use_cases.refunds import RefundService

    charge_id = captured_payment(emulator, 10_000)
    point = "_submit_if_requested" if crash == "before_the_provider_call" else "_apply"
    real = getattr(RefundService, point)
    crashes = ["crash"]

    def crashing(self: RefundService, *args: Any, **kwargs: Any) -> Any:
        if crashes:
            raise RuntimeError(crashes.pop())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RefundService, point, crashing)
    with pytest.raises(RuntimeError):
        refund_service().request(
            "payjp",
            charge_id,
            amount=3000,
            reason=RefundReason.CUSTOMER_REQUEST,
            idempotency_key="k1",
            now=clock.now(),
            actor="arn:aws:iam::123456789012:user/finance",
        )
    [stuck] = refunds_of(charge_id)
    assert stuck["status"] == "requested"
    at_provider = 3000 if crash == "after_the_provider_call" else 0
    assert emulator.charges[charge_id]["amount_refunded"] == at_provider
    if at_provider:
        process(charge_id)  # PAY.JP reports the refund: the requested record explains it
        assert len(refunds_of(charge_id)) == 1
    early = resubmit_stuck_refunds(refund_service(), now=clock.now())
    assert early.examined == 0  # a refund requested just now is not stuck yet
    report = resubmit_stuck_refunds(refund_service(), now=clock.now() + timedelta(hours=1))
    assert report.resubmitted == [stuck["refund_id"]]
    [done] = refunds_of(charge_id)
    assert done["status"] == "succeeded"
    assert emulator.charges[charge_id]["amount_refunded"] == 3000  # refunded once at PAY.JP
    keys = {key for key, path in emulator._idempotent if path.endswith(f"{charge_id}/refund")}
    assert keys == {stuck["refund_id"]}
    assert balance() == 10_000 - FEE_10000 - 3000  # debited once
    assert resubmit_stuck_refunds(refund_service(), now=clock.now() + timedelta(hours=2)).examined == 0


def test_refunds_without_a_provider_api_never_hold_up_the_sweep(emulator: Any, monkeypatch: Any) -> None:
    """Refunds of a provider without a refund API stay ``requested`` for finance: the sweep passes
    them over (every real provider has one now; the sandbox provider has none)."""
    from cardops.payments.domain.refunds import RefundReason
    from cardops.payments.use_cases.provider_refunds import resubmit_stuck_refunds
    from tests.integration.ledger.conftest import capture_payment

    capture_payment(provider="sandbox", payment_id="sb_1", store_id="store-no-api")
    for n in range(3):
        refund_service().request(
            "sandbox",
            "sb_1",
            amount=100,
            reason=RefundReason.CUSTOMER_REQUEST,
            idempotency_key=f"console-{n}",
            now=clock.now() - timedelta(hours=2),
            actor="arn:aws:iam::123456789012:user/finance",
        )
    charge_id = captured_payment(emulator, 10_000)
    emulator.faults["refund"] = ["server_error"] * 3  # every attempt of the request fails
    from cardops.payments.use_cases.refunds import RefundSubmissionPendingError

    with pytest.raises(RefundSubmissionPendingError):
        refund_service().request(
            "payjp",
            charge_id,
            amount=1000,
            reason=RefundReason.CUSTOMER_REQUEST,
            idempotency_key="k-timeout",
            now=clock.now(),
            actor="arn:aws:iam::123456789012:user/finance",
        )
    report = resubmit_stuck_refunds(refund_service(), now=clock.now() + timedelta(hours=1), limit=1)
    assert (report.without_api, report.examined, len(report.resubmitted)) == (3, 1, 1)
    assert emulator.charges[charge_id]["amount_refunded"] == 1000


def test_a_provider_refund_is_recorded_and_its_case_opened_reading_only_the_refunds(
    provisioned: Any,
) -> None:
    """The listeners take the payment from the change (its image), not from a read: the one read left
    is the refund records the recording transaction is conditioned on (issue 13: refund 14 → 12 calls).
    The support case is written under its is-new condition without a read before it."""
    from cardops.ledger.store import RefundStore
    from cardops.payments.domain.payments import CanonicalEvent, EventKind, PaymentFacts, RefundFact
    from cardops.payments.store.payments import PaymentRepository
    from cardops.payments.use_cases.payment_events import apply_canonical
    from cardops.support.domain.cases import case_id_for_source
    from cardops.support.store import CaseStore
    from tests.helpers import counting_aws_calls
    from tests.integration.ledger.conftest import capture_payment

    capture_payment(payment_id="pay_image", store_id="store-image")
    drain_changes()
    refunded = CanonicalEvent(
        provider="sandbox",
        provider_payment_id="pay_image",
        event_id="evt_pay_image_refunded",
        kind=EventKind.REFUNDED,
        occurred_at=clock.now(),
        facts=PaymentFacts(refunds={"sandbox:amount_refunded": RefundFact(amount=2500, state="succeeded")}),
    )
    apply_canonical(refunded, PaymentRepository(), now=clock.now())

    with counting_aws_calls() as calls:
        drain_changes()

    [made] = RefundStore().of_payment("sandbox", "pay_image")
    assert (made.source.value, made.amount) == ("provider", 2500)
    case = CaseStore(provisioned.table_name).get(case_id_for_source(f"refund-rejected:{made.refund_id}"))
    assert case is not None and case.subject.provider_payment_id == "pay_image"
    reads = {op: n for op, n in calls.items() if op in ("dynamodb:GetItem", "dynamodb:Query")}
    assert reads == {"dynamodb:Query": 1}, calls
