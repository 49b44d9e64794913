"""Cases open automatically from other slices' events, once per source, as the function that had the event."""

from __future__ import annotations

from datetime import date
from typing import Any

from cardops.handlers import capture_deadline
from cardops.kernel import aws, clock
from cardops.ledger.domain.ledger import Channel
from cardops.payments.domain.refunds import FinanceAlert
from cardops.payments.wiring import publish_alerts
from cardops.sandbox.lambda_runner import FakeContext
from cardops.support import hooks
from cardops.support.domain.cases import case_id_for_source
from cardops.support.store import CaseStore
from tests.integration.support.conftest import execution_arn, status, wait_until
from tests.integration.support.test_support_api import _authorize


def _case(provisioned: Any, source: str) -> Any:
    case = CaseStore(provisioned.table_name).get(case_id_for_source(source))
    assert case is not None, f"no case for {source}"
    return case


def test_failed_auto_refund_opens_one_case_about_the_payment(support: Any) -> None:
    _authorize("ch_stuck", store_id="store-7")
    step = {
        "action": "escalate",
        "provider": "payjp",
        "provider_payment_id": "ch_stuck",
        "error": {"Error": "PermanentProviderError", "Cause": "card_declined"},
        "execution": "arn:aws:states:ap-northeast-1:123456789012:execution:x:y",
    }
    for _ in range(2):  # a retried escalate step opens no second case
        assert capture_deadline.handler(step, FakeContext("capture_deadline")) == {"escalated": True}
    case = _case(support, "auto-refund-failed:payjp:ch_stuck")
    assert case.category.value == "auto_refund_failed" and case.opened_by == "cardops:capture-deadline"
    assert case.subject.store_id == "store-7" and case.subject.provider_payment_id == "ch_stuck"
    assert "PermanentProviderError" in case.summary
    wait_until(lambda: status(execution_arn(support, case.case_id)) == "RUNNING", what="the case's timers")


def test_rejected_refund_opens_a_case_as_the_admin_function(support: Any) -> None:
    _authorize("ch_refunded", store_id="store-3")
    alert = FinanceAlert(
        alert_id="al_1", refund_id="rf_abc", store_id="store-3", channel=Channel.STANDARD, provider="payjp",
        provider_payment_id="ch_refunded", amount=1200, currency="JPY", card_expired=True,
        detail="card closed", at=clock.now(),
    )  # fmt: skip
    with aws.acting_as("admin"):
        publish_alerts([alert])
        publish_alerts([alert])
    case = _case(support, "refund-rejected:rf_abc")
    assert case.category.value == "refund_rejected" and "1200 JPY" in case.summary


def test_repayment_request_and_registration_error_open_cases(support: Any) -> None:
    _authorize("ch_expired", store_id="store-4")
    with aws.acting_as("admin"):
        opened = hooks.repayment_requested(
            request_id="rq-1", provider="payjp", payment_id="ch_expired", store_id="store-4",
            reservation_id="rsv-ch_expired", actor="arn:aws:iam::000000000000:user/desk",
        )  # fmt: skip
        # the evidence named another store: the case is kept, without the unconfirmed payment link
        other = hooks.repayment_requested(
            request_id="rq-2", provider="payjp", payment_id="ch_expired", store_id="store-x",
            reservation_id=None, actor="arn:aws:iam::000000000000:user/desk",
        )  # fmt: skip
        feed = hooks.card_feed_diagnosed(
            tenant_id="t-1", employee_code="E001", usage_date=date(2026, 5, 1), cause="unmatched",
            reason="name_small_kana", message="small kana registered as large",
        )  # fmt: skip
        none = hooks.card_feed_diagnosed(
            tenant_id="t-1", employee_code="E001", usage_date=date(2026, 5, 1), cause="not_yet_synced",
            reason=None, message="not synced yet",
        )  # fmt: skip
    assert opened == case_id_for_source("repayment:rq-1")
    assert _case(support, "repayment:rq-1").opened_by == "arn:aws:iam::000000000000:user/desk"
    assert other is not None and _case(support, "repayment:rq-2").subject.provider_payment_id is None
    assert feed == case_id_for_source("card-feed:t-1:E001:name_small_kana") and none is None
    assert _case(support, "card-feed:t-1:E001:name_small_kana").subject.tenant_id == "t-1"


def test_hooks_never_fail_their_caller(support: Any, monkeypatch: Any) -> None:
    from cardops.support import wiring

    monkeypatch.setattr(wiring, "support_deps", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    opened = hooks.refund_rejected(
        refund_id="rf_x",
        provider="payjp",
        payment_id="ch",
        store_id="s",
        amount=1,
        currency="JPY",
        detail="d",
    )
    assert opened is None
