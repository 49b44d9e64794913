"""The support admin API: hostile input gets a clear 4xx, the case view answers from payment data, and the
monthly complaints report (JSON, CSV, S3, schedule)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cardops.handlers import support as support_handler
from cardops.kernel import aws, clock
from cardops.kernel.calendar import tokyo_date
from cardops.ledger.domain.ledger import Cause, CauseKind, Channel, EntryKind, make_entry
from cardops.ledger.store import LedgerStore
from cardops.payments.domain.payments import CanonicalEvent, EventKind, PaymentFacts, PaymentMetadata
from cardops.payments.store.payments import PaymentRepository
from cardops.payments.use_cases.payment_events import apply_canonical
from cardops.sandbox.lambda_runner import FakeContext
from tests.integration.support.conftest import admin, open_case


def _authorize(
    payment_id: str, *, store_id: str = "store-1", mcc: str | None = None, amount: int = 8800
) -> None:
    now = clock.now()
    event = CanonicalEvent(
        provider="payjp",
        provider_payment_id=payment_id,
        event_id=f"evt_{payment_id}",
        kind=EventKind.AUTHORIZED,
        occurred_at=now,
        facts=PaymentFacts(currency="JPY", authorized_amount=amount, authorized_at=now),
        metadata=PaymentMetadata(
            store_id=store_id,
            reservation_id=f"rsv-{payment_id}",
            visit_date=(now + timedelta(days=3)).date(),
            accepted_at=now,
            mcc=mcc,
        ),
    )
    apply_canonical(event, PaymentRepository(), now=now)


def _payment_case(payment_id: str, store_id: str = "store-1") -> dict[str, Any]:
    return {
        "category": "authorization",
        "summary": "customer sees a pending charge",
        "subject": {"store_id": store_id, "provider": "payjp", "provider_payment_id": payment_id},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "lost_card", "summary": "x", "subject": {"store_id": "s"}}, "category"),
        ({"category": "service", "summary": "", "subject": {"store_id": "s"}}, "summary"),
        ({"category": "service", "summary": "x", "subject": {}}, "subject"),
        (
            {
                "category": "service",
                "summary": "x",
                "subject": {"provider": "payjp", "provider_payment_id": "ch"},
            },
            "",
        ),
        (
            {"category": "service", "summary": "x", "subject": {"store_id": "s"}, "status": "resolved"},
            "status",
        ),
    ],
)
def test_malformed_cases_are_refused_with_the_field(support: Any, body: dict[str, Any], field: str) -> None:
    code, answer = admin("POST", "/admin/cases", body)
    assert code == 422, answer
    assert answer["error"]["code"] == "invalid_request"
    assert field in str(answer["error"]["details"])


def test_a_case_about_another_stores_payment_is_refused(support: Any) -> None:
    _authorize("ch_theirs", store_id="store-2")
    code, answer = admin("POST", "/admin/cases", _payment_case("ch_theirs", store_id="store-1"))
    assert code == 422 and answer["error"]["code"] == "payment_of_another_store"
    assert "store-1" in answer["error"]["message"]
    code, answer = admin("POST", "/admin/cases", _payment_case("ch_nowhere"))
    assert code == 404 and answer["error"]["code"] == "payment_not_found"
    code, answer = admin("GET", "/admin/cases", None)
    assert code == 200 and answer["cases"] == []  # nothing was opened


def test_rules_and_unknown_cases_are_4xx(support: Any) -> None:
    case = open_case({"category": "service", "summary": "x", "subject": {"store_id": "s"}})
    code, answer = admin("POST", f"/admin/cases/{case['case_id']}/resolve", {"resolution": "done"})
    assert code == 409 and answer["error"]["code"] == "not_acknowledged"
    code, answer = admin("POST", f"/admin/cases/{case['case_id']}/release-hold", {})
    assert code == 409 and answer["error"]["code"] == "not_public_body"
    code, answer = admin("POST", "/admin/cases/case-nope/ack", {})
    assert code == 404 and answer["error"]["code"] == "case_not_found"
    code, answer = admin("GET", "/admin/cases/not%20an%20id")
    assert code == 422


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "May 2026", "1999-12", "2999-01"])
def test_bad_months_are_refused(support: Any, month: str) -> None:
    code, answer = admin("GET", f"/admin/complaints-reports/{month.replace(' ', '%20')}")
    assert code == 422 and answer["error"]["code"] == "invalid_month", answer
    code, answer = admin("GET", f"/admin/cases?status=all&month={month.replace(' ', '%20')}")
    assert code == 422 and answer["error"]["code"] == "invalid_month", answer


def test_case_view_answers_authorization_validity_deadline_and_refund_candidates(support: Any) -> None:
    _authorize("ch_hotel", mcc="7011", amount=8800)
    _authorize("ch_shop", amount=5000)
    now = clock.now()
    # a refund of the same merchant and amount, recorded against another payment: a candidate
    LedgerStore().post(
        [
            make_entry(
                store_id="store-1", channel=Channel.STANDARD, currency="JPY", kind=EntryKind.REFUND,
                amount=-8800, cause=Cause(kind=CauseKind.REFUND, id="rf_elsewhere"), now=now,
            ),
            make_entry(
                store_id="store-1", channel=Channel.STANDARD, currency="JPY", kind=EntryKind.REFUND,
                amount=-1200, cause=Cause(kind=CauseKind.REFUND, id="rf_other_amount"), now=now,
            ),
        ]
    )  # fmt: skip
    hotel = open_case(_payment_case("ch_hotel"))
    code, view = admin("GET", f"/admin/cases/{hotel['case_id']}")
    assert code == 200, view
    answers = view["payment"]
    assert answers["authorization"]["validity_days"] == 31
    assert answers["authorization"]["store_can_void"] is True
    assert "only the acquirer" in answers["authorization"]["why"]
    assert answers["deadline"]["capture_deadline"] is not None and answers["deadline"]["passed"] is False
    assert [c["refund_id"] for c in answers["refunds"]["candidates"]] == ["rf_elsewhere"]
    assert answers["dispute"]["state"] == "none"
    shop = open_case(_payment_case("ch_shop"))
    code, view = admin("GET", f"/admin/cases/{shop['case_id']}?amount=1200")
    assert view["payment"]["authorization"]["validity_days"] == 7
    assert [c["refund_id"] for c in view["payment"]["refunds"]["candidates"]] == ["rf_other_amount"]


def test_monthly_report_json_csv_s3_and_schedule(support: Any) -> None:
    month = tokyo_date(clock.now()).strftime("%Y-%m")
    first = open_case({"category": "service", "summary": "a", "subject": {"store_id": "s"}})
    open_case({"category": "public_body_udap", "summary": "b", "subject": {"store_id": "s"}})
    admin("POST", f"/admin/cases/{first['case_id']}/ack", {})
    code, answer = admin("GET", f"/admin/complaints-reports/{month}")
    assert code == 200, answer
    report = answer["report"]
    assert report["opened"] == 2 and report["public_body"] == 1
    assert report["by_category"]["service"] == 1 and report["by_category"]["public_body_udap"] == 1
    assert report["sla"]["ack"] == {"met": 1, "missed": 0, "pending": 1}
    assert len(report["open_aged"]) == 2
    assert answer["csv"].splitlines()[0].startswith("section,month,key,count")
    code, answer = admin("POST", f"/admin/complaints-reports/{month}")
    assert code == 200 and answer["written"] == [
        f"s3://{support.reports_bucket}/reports/complaints/{month}.json",
        f"s3://{support.reports_bucket}/reports/complaints/{month}.csv",
    ]
    stored = aws.s3().get_object(Bucket=support.reports_bucket, Key=f"reports/complaints/{month}.csv")
    assert b"public_body_udap" in stored["Body"].read()

    # the schedule: Jan 4 2027 is the first bank business day (Jan 1 holiday, 2–3 weekend)
    skipped = support_handler.monthly_report({"time": "2026-12-31T00:00:00Z"}, FakeContext("support_report"))
    assert skipped["status"] == "skipped_not_first_business_day"
    written = support_handler.monthly_report({"time": "2027-01-04T00:00:00Z"}, FakeContext("support_report"))
    assert written["status"] == "written" and written["month"] == "2026-12"
    keys = aws.s3().list_objects_v2(Bucket=support.reports_bucket, Prefix="reports/complaints/2026-12")
    assert sorted(o["Key"] for o in keys.get("Contents", [])) == [
        "reports/complaints/2026-12.csv",
        "reports/complaints/2026-12.json",
    ]
