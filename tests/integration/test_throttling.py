"""Throttling and transient DynamoDB failures at every entry point (issue 10 item 9).

Each test injects the failure botocore reports once its own retries are spent, and asserts the
documented outcome: a 503 to API callers (the provider or the CLI retries), a batch item failure
to SQS, ``StoreUnavailable`` to Step Functions (its Retry matches the name), a failed scheduled run
that the next run completes. And after the fault, a retry loses nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from cardops.kernel import clock
from cardops.kernel.dynamodb import StoreUnavailable
from cardops.payments.store.payments import PaymentRepository
from cardops.sandbox.lambda_runner import FakeContext
from tests.builders import captured_payment, repayment_record
from tests.conftest import sample
from tests.faults import TRANSIENT_CODES, dynamodb_fault
from tests.helpers import call, reservation_body, sqs_event, stripe_headers
from tests.integration.test_janitor import Janitor, authorized_through_webhook, stop_executions

# --- webhook -------------------------------------------------------------------------------------


@pytest.fixture
def webhook(provisioned: Any) -> Any:
    from cardops.handlers.webhook import handler

    return handler


def _event(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "type": "payment_intent.succeeded", "data": {"object": {}}}).encode()


def _queued(provisioned: Any) -> list[str]:
    sqs = boto3.client("sqs", region_name="ap-northeast-1")
    ids: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=provisioned.events_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return ids
        for message in messages:
            ids.append(json.loads(message["Body"])["event_id"])
            sqs.delete_message(QueueUrl=provisioned.events_queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.mark.parametrize("code", TRANSIENT_CODES)
def test_webhook_store_throttled_is_503_then_the_retry_is_stored_and_enqueued(
    webhook: Any, provisioned: Any, code: str
) -> None:
    body = _event(f"evt_put_{code}")
    with dynamodb_fault("PutItem", code=code) as fault:
        status, answer = call(webhook, "POST", "/webhooks/stripe", body, stripe_headers(body))
    assert fault.hits == ["PutItem"]
    assert status == 503 and answer["error"]["code"] == "store_unavailable"
    assert _queued(provisioned) == []
    assert call(webhook, "POST", "/webhooks/stripe", body, stripe_headers(body)) == (
        200,
        {"received": True, "duplicate": False},
    )
    assert _queued(provisioned) == [f"evt_put_{code}"]


def test_webhook_store_read_timeout_is_503(webhook: Any, provisioned: Any) -> None:
    body = _event("evt_timeout")
    with dynamodb_fault("PutItem", timeout=True):
        status, answer = call(webhook, "POST", "/webhooks/stripe", body, stripe_headers(body))
    assert status == 503 and answer["error"]["code"] == "store_unavailable"
    assert call(webhook, "POST", "/webhooks/stripe", body, stripe_headers(body))[0] == 200


def test_webhook_duplicate_put_throttled_is_503(webhook: Any, provisioned: Any) -> None:
    """A duplicate is answered by its conditional put alone (issue 13): throttled, it is a 503."""
    body = _event("evt_dup")
    assert call(webhook, "POST", "/webhooks/stripe", body, stripe_headers(body))[0] == 200
    with dynamodb_fault("PutItem") as fault:
        status, _ = call(webhook, "POST", "/webhooks/stripe", body, stripe_headers(body))
    assert fault.hits == ["PutItem"] and status == 503
    assert call(webhook, "POST", "/webhooks/stripe", body, stripe_headers(body)) == (
        200,
        {"received": True, "duplicate": True},
    )


# --- processor (SQS) -----------------------------------------------------------------------------


def _stripe_message(name: str) -> dict[str, Any]:
    body = sample(f"webhooks/stripe/{name}.json")
    return {"provider": "stripe", "event_id": json.loads(body)["id"], "body": body}


def test_processor_reports_only_the_throttled_record_for_retry(provisioned: Any) -> None:
    from cardops.handlers.processor import handler
    from cardops.sandbox.queue_worker import sqs_event as build

    first = _stripe_message("payment_intent.amount_capturable_updated")
    second = _stripe_message("charge.dispute.created")
    second_body = json.loads(second["body"])
    second_body["data"]["object"]["payment_intent"] = "pi_other"
    second_body["data"]["object"]["id"] = "dp_other"
    second = {**second, "body": json.dumps(second_body)}
    records = [
        {"MessageId": "m-first", "ReceiptHandle": "r1", "Body": json.dumps(first)},
        {"MessageId": "m-second", "ReceiptHandle": "r2", "Body": json.dumps(second)},
    ]
    event = build(records, "arn:aws:sqs:ap-northeast-1:123456789012:cardops-events")
    with dynamodb_fault("TransactWriteItems") as fault:
        result = handler(event, FakeContext("processor"))
    assert fault.hits == ["TransactWriteItems"]
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-first"}]}
    assert PaymentRepository().get("stripe", "pi_3QzAbC2eZvKYlo2C0xyz9876") is None
    # SQS redelivers the failed record: nothing was lost
    assert handler(sqs_event(first, "m-first"), FakeContext("processor")) == {"batchItemFailures": []}
    found = PaymentRepository().get("stripe", "pi_3QzAbC2eZvKYlo2C0xyz9876")
    assert found is not None and found.status.value == "authorized"


# --- admin API -----------------------------------------------------------------------------------


def test_admin_read_throttled_is_503_not_502(provisioned: Any) -> None:
    from cardops.handlers.admin import handler

    for code in TRANSIENT_CODES:
        with dynamodb_fault("Query", code=code):
            status, answer = call(handler, "GET", "/admin/payments/stripe/pi_x")
        assert status == 503, (code, answer)
        assert answer["error"]["code"] == "unavailable"
    with dynamodb_fault(timeout=True):
        status, _ = call(handler, "GET", "/admin/stores/store-1/uncaptured")
    assert status == 503
    assert call(handler, "GET", "/admin/payments/stripe/pi_x")[0] == 404


#: every admin read whose store pages a query (``kernel.dynamodb.query_items``), and how many
#: queries the request makes before it (the payment's notes are read after the payment)
PAGED_READS = {
    "payment": ("/admin/payments/stripe/pi_paged", 0),
    "payment notes": ("/admin/payments/stripe/pi_paged", 1),
    "uncaptured": ("/admin/stores/store-1/uncaptured", 0),
    "statement": ("/admin/stores/store-1/statement", 0),
    "cases": ("/admin/cases?status=all", 0),
    "card errors": ("/admin/tenants/t1/card-errors", 0),
    "feed runs": ("/admin/feeds/runs", 0),
    "repayment audit trail": ("/admin/repayments/rq_paged", 0),
}


def _answer(method: str, path: str) -> tuple[int, dict[str, Any], dict[str, list[str]]]:
    """Status, JSON body and headers of an admin call (``helpers.call`` keeps no headers)."""
    from cardops.handlers.admin import handler
    from cardops.sandbox.gateway import api_gateway_event
    from cardops.sandbox.lambda_runner import FakeContext

    route, _, query = path.partition("?")
    event = api_gateway_event(method, route, {}, b"")
    if query:
        event["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in event["queryStringParameters"].items()}
    result = handler(event, FakeContext(function_name="test"))
    headers = {k.lower(): v for k, v in (result.get("multiValueHeaders") or {}).items()}
    return int(result["statusCode"]), json.loads(result["body"]), headers


def test_admin_paged_reads_answer_a_throttle_with_503_retry_after_and_a_defect_with_500(
    provisioned: Any,
) -> None:
    """Every paged read answers alike: a throttle is retryable (503 + Retry-After), a driver error
    that no retry fixes (here a missing grant) is our defect (500), whichever store pages it."""
    from cardops.payments.store.repayment import RepaymentStore

    PaymentRepository().save(captured_payment("stripe", "pi_paged", store_id="store-1"), expected_version=0)
    RepaymentStore().create(repayment_record("rq_paged"))
    answers = {}
    for read, (path, before) in PAGED_READS.items():
        assert _answer("GET", path)[0] == 200, read
        with dynamodb_fault("Query", code="ThrottlingException", after=before) as fault:
            status, body, headers = _answer("GET", path)
        assert fault.hits == ["Query"], read
        throttled = (status, body["error"]["code"], headers.get("retry-after"))
        with dynamodb_fault("Query", code="AccessDeniedException", after=before):
            status, body, headers = _answer("GET", path)
        answers[read] = (throttled, (status, body["error"]["code"], "retry-after" in headers))
    assert answers == {
        read: ((503, "unavailable", ["1"]), (500, "internal_error", False)) for read in PAGED_READS
    }


def test_a_repayment_read_throttled_is_503_and_reads_again_after(provisioned: Any) -> None:
    from cardops.handlers.admin import handler
    from cardops.payments.domain.repayment_requests import AuditEntry
    from cardops.payments.store.repayment import RepaymentStore

    store = RepaymentStore()
    store.create(repayment_record("rq_throttled"))
    store.audit("rq_throttled", AuditEntry(at=clock.now(), step="start", result="started"))
    for code in TRANSIENT_CODES:
        with dynamodb_fault("Query", code=code) as fault:  # the audit trail's query
            status, answer = call(handler, "GET", "/admin/repayments/rq_throttled")
        assert fault.hits == ["Query"]
        assert (status, answer["error"]["code"]) == (503, "unavailable"), (code, answer)
    status, shown = call(handler, "GET", "/admin/repayments/rq_throttled")
    assert status == 200 and [e["step"] for e in shown["audit"]] == ["start"]


def test_admin_write_throttled_is_503_and_the_reservation_is_stored_on_retry(provisioned: Any) -> None:
    from cardops.handlers.admin import handler
    from cardops.payments.store.payments import ReservationRepository

    body = reservation_body()
    with dynamodb_fault("PutItem", code="ThrottlingException"):
        assert call(handler, "PUT", "/admin/reservations/rsv_t", body)[0] == 503
    assert ReservationRepository().get("rsv_t") is None
    assert call(handler, "PUT", "/admin/reservations/rsv_t", body)[0] == 200
    assert ReservationRepository().get("rsv_t") is not None


# --- re-payment workflow steps (Step Functions) ---------------------------------------------------

REPAYMENT_STEPS = {
    "validate": "ValidateEvidence",
    "eligibility": "CheckEligibility",
    "charge": "ChargeAgain",
}


@pytest.mark.parametrize(("step", "state"), sorted(REPAYMENT_STEPS.items()))
def test_repayment_step_throttled_raises_the_error_its_state_retries(
    provisioned: Any, step: str, state: str
) -> None:
    from cardops import resources
    from cardops.handlers import repayment

    with dynamodb_fault(times=10) as fault, pytest.raises(StoreUnavailable):
        getattr(repayment, step)({"request_id": "rr_throttled"}, FakeContext(f"repayment-{step}"))
    assert fault.hits
    definition = json.loads((resources.WORKFLOWS_DIR / "repayment.asl.json").read_text())
    retried = {name for rule in definition["States"][state]["Retry"] for name in rule["ErrorEquals"]}
    assert type(StoreUnavailable("x")).__name__ in retried


# --- payments janitor (schedule) ------------------------------------------------------------------


def test_janitor_throttled_on_one_payment_repairs_the_rest_and_its_next_check_repairs_it(
    emulator: Any, provisioned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = authorized_through_webhook(emulator)
    second = authorized_through_webhook(emulator)
    for charge_id in (first, second):
        emulator.capture_charge(charge_id, {})  # both webhooks lost
    start = clock.now()
    janitor = Janitor(provisioned, monkeypatch).at(start + timedelta(hours=1))
    try:
        assert janitor.schedule()["enqueued"] == 2
        with dynamodb_fault("TransactWriteItems") as fault:
            janitor.drain()  # one batch: the throttled payment waits for its next check, the message succeeds
        assert fault.hits == ["TransactWriteItems"]
        found = [PaymentRepository().get("payjp", c) for c in (first, second)]
        assert sorted(p.status.value for p in found if p is not None) == ["authorized", "captured"]
        # its checks are at 15, 45 and 105 minutes after its change: the run at 2 h sends it again
        assert janitor.at(start + timedelta(hours=2)).run()["enqueued"] == 1
    finally:
        stop_executions(provisioned)
    for charge_id in (first, second):
        found = PaymentRepository().get("payjp", charge_id)
        assert found is not None and found.status.value == "captured"


def test_janitor_scheduler_throttled_fails_the_run_and_the_next_resumes_it(
    emulator: Any, provisioned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    charge_id = authorized_through_webhook(emulator)
    janitor = Janitor(provisioned, monkeypatch).at(clock.now() + timedelta(hours=1))
    try:
        with dynamodb_fault("Query", times=8), pytest.raises(StoreUnavailable):
            janitor.schedule()  # the schedule retries the invocation
        result = janitor.schedule()
    finally:
        stop_executions(provisioned)
    (run,) = result["runs"]
    assert run["resumed"] and run["finished"] and result["enqueued"] == 1, result
    assert charge_id
