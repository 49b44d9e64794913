"""Test helpers: API Gateway events for the real handlers, provider-signed webhook requests."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.client import BaseClient

from cardops import resources
from cardops.kernel.calendar import TOKYO
from cardops.sandbox.gateway import api_gateway_event
from cardops.sandbox.lambda_runner import FakeContext
from cardops.sandbox.sigv4 import OPERATOR_ACCESS_KEY, OPERATOR_SECRET_KEY
from tests.openapi_conformance import check_answer

SECRETS = resources.SANDBOX_SECRETS

#: the change feed of the ``provisioned`` stack (set by the fixture): ``drain_changes`` runs it
_change_feed: list[Any] = []


def use_change_feed(feed: Any | None) -> None:
    _change_feed[:] = [feed] if feed is not None else []


def change_feed() -> Any:
    """The provisioned stack's change feed (``cardops.sandbox.stream_poller.StreamPoller``)."""
    if not _change_feed:
        raise RuntimeError("no change feed: the test needs the `provisioned` fixture")
    return _change_feed[0]


def drain_changes() -> int:
    """Deliver every payment change written so far to its listeners, as the stream's event source
    mapping does in AWS (filter, retries, bisect, on-failure queue); the number of changes delivered.

    Writers no longer run the listeners: a test that checks what follows a payment change (ledger
    entries, refund states, workflow executions) drains the feed first.
    """
    delivered: int = change_feed().drain()
    return delivered


def call(
    handler: Any,
    method: str,
    path: str,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    if isinstance(body, dict):
        raw = json.dumps(body).encode()
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = body or b""
    event = api_gateway_event(method, path, {"Content-Type": "application/json", **(headers or {})}, raw)
    result = handler(event, FakeContext(function_name="test"))
    payload = result.get("body") or ""
    if result.get("isBase64Encoded"):
        payload = base64.b64decode(payload).decode()
    try:
        answer = int(result["statusCode"]), json.loads(payload) if payload else None
    except ValueError:
        return int(result["statusCode"]), payload
    if path.startswith("/admin/"):
        check_answer(method, path, *answer)
    return answer


def stripe_headers(
    body: bytes, secret: str = SECRETS["stripe_webhook_secret"], timestamp: int | None = None
) -> dict[str, str]:
    """Signed with the official stripe library's own helper, as Stripe signs."""
    from stripe import WebhookSignature

    header = WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp or int(time.time())
    )
    return {"Stripe-Signature": header}


def payjp_headers(token: str = SECRETS["payjp_webhook_token"]) -> dict[str, str]:
    return {"X-Payjp-Webhook-Token": token}


def sigv4_headers(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret_key: str = OPERATOR_SECRET_KEY,
    access_key: str = OPERATOR_ACCESS_KEY,
    region: str = "ap-northeast-1",
) -> dict[str, str]:
    """``headers`` signed for ``execute-api`` as the CLI signs for a deployed stack (botocore's
    SigV4), by default with the sandbox operator's credentials."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(Credentials(access_key, secret_key), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


class AwsCalls(Counter[str]):
    """AWS API calls as ``service:Operation`` counts, and the DynamoDB items (S3 keys) answers carried."""

    items_read: int = 0
    #: of ``items_read``, the items that Query and Scan answers carried (index and range reads)
    items_queried: int = 0
    #: S3 keys and folders (``CommonPrefixes``) that list answers carried
    keys_listed: int = 0

    def __init__(self) -> None:
        super().__init__()
        #: each TransactWriteItems' items, by the bytes DynamoDB bills them at: the larger of the
        #: item before and after the transaction (a condition check: the item checked)
        self.transactions: list[list[int]] = []

    def answered(self, parsed: Any) -> None:
        if isinstance(parsed, dict):
            self.keys_listed += len(parsed.get("Contents", [])) + len(parsed.get("CommonPrefixes", []))
            self.items_read += len(parsed.get("Items", []))
            self.items_queried += len(parsed.get("Items", []))
            self.items_read += sum(len(items) for items in parsed.get("Responses", {}).values())
            self.items_read += "Item" in parsed  # GetItem


def _transact_item_sizes(client: BaseClient, call: Any, params: dict[str, Any]) -> list[int]:
    """The bytes of each item a TransactWriteItems names, as stored now (read uncounted, through
    the unpatched call; 0 when absent)."""
    from boto3.dynamodb.types import TypeDeserializer

    from tests.benchmarks.footprint import item_size

    deserializer = TypeDeserializer()
    sizes = []
    for entry in params["TransactItems"]:
        ((_, action),) = entry.items()
        key = action.get("Key") or {name: action["Item"][name] for name in ("pk", "sk")}
        found = call(client, "GetItem", {"TableName": action["TableName"], "Key": key}).get("Item")
        item = {name: deserializer.deserialize(value) for name, value in (found or {}).items()}
        sizes.append(item_size(item) if found else 0)
    return sizes


@contextmanager
def counting_aws_calls(*, transaction_sizes: bool = False) -> Iterator[AwsCalls]:
    """Counts every AWS API call made through botocore (every function's client), as ``service:Operation``;
    with ``transaction_sizes``, each TransactWriteItems' item sizes too (``AwsCalls.transactions``: two
    uncounted GetItems per item, so only where the caller may read them, as on the benchmarks' moto)."""
    counts = AwsCalls()
    original = BaseClient._make_api_call

    def counted(self: BaseClient, operation: str, params: Any) -> Any:
        service = self.meta.service_model.service_name
        counts[f"{service}:{operation}"] += 1
        if not transaction_sizes or f"{service}:{operation}" != "dynamodb:TransactWriteItems":
            answer = original(self, operation, params)
            counts.answered(answer)
            return answer
        before = _transact_item_sizes(self, original, params)
        answer = original(self, operation, params)
        after = _transact_item_sizes(self, original, params)
        counts.transactions.append([max(old, new) for old, new in zip(before, after, strict=True)])
        counts.answered(answer)
        return answer

    with mock.patch.object(BaseClient, "_make_api_call", counted):
        yield counts


def eventually(check: Any, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy (asynchronous webhooks, queues, workflows)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def sqs_event(message: dict[str, Any], message_id: str = "m1") -> dict[str, Any]:
    """The processor's SQS event for one queued webhook message."""
    from cardops.sandbox.queue_worker import sqs_event as build

    record = {"MessageId": message_id, "ReceiptHandle": "rh", "Body": json.dumps(message)}
    return build([record], "arn:aws:sqs:ap-northeast-1:123456789012:cardops-events")


def reservation_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``PUT /admin/reservations/{id}`` body (SPEC §8 contract 2)."""
    body: dict[str, Any] = {
        "store_id": "store-1",
        "holder_name": "山田 花子",
        "email": "hanako@example.jp",
        "reserved_at": "2025-03-05T18:00:00+09:00",
        "amount": 12000,
        "tax_treatment": "inclusive",
    }
    return {**body, **overrides}


def sandbox_api(outputs: Mapping[str, Any], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One admin API call to a running sandbox (``outputs``: its local-outputs.json): status and JSON."""
    import urllib3

    response = urllib3.request(
        method,
        str(outputs["ApiUrl"]).rstrip("/") + path,
        body=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        # as long as API Gateway would wait (29 s): a call that retries a faulty provider takes seconds
        timeout=urllib3.Timeout(connect=5.0, read=30.0),
        retries=False,
    )
    answer = response.status, json.loads(response.data or b"null")
    check_answer(method, path, *answer)
    return answer


def sandbox_now(outputs: Mapping[str, Any]) -> datetime:
    """The running sandbox's business clock (``cardops sandbox advance`` moves it)."""
    code, body = sandbox_api(outputs, "GET", "/admin/sandbox/clock")
    assert code == 200, body
    return datetime.fromisoformat(body["now"])


# --- a running sandbox's provider emulators, clock and CLI (the end-to-end provider modules) ------


@dataclass(frozen=True)
class EmulatorControls:
    """A provider emulator's sandbox controls and views (``/_sandbox/...``: JSON, no authentication),
    for tests that run it in another process (the sandbox's ``PayjpApiBaseUrl``, ``StripeApiBaseUrl``)."""

    base_url: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One control or view; its JSON answer (it must answer 200)."""
        import urllib3

        response = urllib3.request(
            method,
            self.base_url + path,
            body=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 200, response.data
        return json.loads(response.data)

    def fault(self, operation: str, count: int, mode: str = "server_error") -> None:
        """The next ``count`` calls of ``operation`` fail (``POST /_sandbox/faults``)."""
        self.call("POST", "/_sandbox/faults", {"operation": operation, "mode": mode, "count": count})

    def keys_sent(self, path: str) -> list[str | None]:
        """The idempotency keys of every request the emulator received on ``path``, in order."""
        return [key for _, seen, key in self.call("GET", "/_sandbox/requests")["requests"] if seen == path]

    def events(self) -> list[dict[str, Any]]:
        """Every event the emulator made, delivered or not."""
        events: list[dict[str, Any]] = self.call("GET", "/_sandbox/events")["events"]
        return events


def payment_with_status(outputs: Mapping[str, Any], provider: str, payment_id: str, *statuses: str) -> Any:
    """The payment as the admin API shows it once its status is one of ``statuses``, else ``None``."""
    code, body = sandbox_api(outputs, "GET", f"/admin/payments/{provider}/{payment_id}")
    return body if code == 200 and body["status"] in statuses else None


def booking_metadata(
    outputs: Mapping[str, Any],
    store_id: str,
    reservation_id: str,
    *,
    visit_in_days: int,
    accepted_days_ago: int,
) -> dict[str, str]:
    """Contract-2 metadata of a booking, dated from the sandbox's clock."""
    now = sandbox_now(outputs)
    return {
        "store_id": store_id,
        "reservation_id": reservation_id,
        "visit_date": (now.astimezone(TOKYO).date() + timedelta(days=visit_in_days)).isoformat(),
        "accepted_at": (now - timedelta(days=accepted_days_ago)).astimezone(TOKYO).isoformat(),
    }


def sandbox_cli(outputs: Mapping[str, Any], *args: str) -> str:
    """One ``cardops`` CLI command against the sandbox (``_outputs_file``); its output (must succeed)."""
    from click.testing import CliRunner

    from cardops.cli.main import cli

    result = CliRunner().invoke(cli, [*args, "--outputs", outputs["_outputs_file"]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


REPAYMENT_SAMPLES = Path(__file__).resolve().parents[1] / "events" / "repayment"


def after_the_retry_interval(outputs: Mapping[str, Any], check: Any, timeout: float = 60.0) -> Any:
    """``eventually(check)`` while the sandbox clock moves a minute at a time: a workflow step that
    failed waits out its ``Retry`` interval on the sandbox clock (``cardops.sandbox.clock_wait``), up
    to half a minute at first for the capture deadline's, which the test need not wait in real time."""

    def advanced() -> Any:
        sandbox_cli(outputs, "sandbox", "advance", "1m")
        return check()

    return eventually(advanced, timeout=timeout)


def booked_reservation(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The sample re-payment evidence (``events/repayment/evidence.json``) for a reservation of the
    test's own, stored as the booking system stores it (``PUT /admin/reservations/{id}``)."""
    sample = json.loads((REPAYMENT_SAMPLES / "evidence.json").read_text(encoding="utf-8"))
    evidence: dict[str, Any] = {**sample["evidence"], "reservation_id": f"rsv_e2e_{secrets.token_hex(4)}"}
    code, body = sandbox_api(
        outputs,
        "PUT",
        f"/admin/reservations/{evidence['reservation_id']}",
        {
            "store_id": evidence["store_id"],
            "holder_name": "山田 花子",
            "email": evidence["email"],
            "tel": evidence["tel"],
            "reserved_at": evidence["reserved_at"],
            "amount": evidence["amount"],
            "tax_treatment": "inclusive",
        },
    )
    assert code == 200, body
    return evidence


def expired_payjp_original(outputs: Mapping[str, Any], evidence: Mapping[str, Any]) -> tuple[str, str]:
    """The PAY.JP authorization of the evidence's reservation, on a saved card (a customer), released
    by the capture-deadline workflow (the visit is long past): a re-payment's original. Its customer's
    and charge's ids; the official ``payjp`` library must point at the sandbox's emulator."""
    import payjp

    customer = payjp.Customer.create(card="tok_visa", email=evidence["email"])
    original = payjp.Charge.create(
        amount=evidence["amount"],
        currency="jpy",
        customer=customer.id,
        capture=False,
        metadata={
            "store_id": evidence["store_id"],
            "reservation_id": evidence["reservation_id"],
            "visit_date": "2025-03-05",
            "accepted_at": "2025-03-01T10:00:00+09:00",
        },
    )
    eventually(lambda: payment_with_status(outputs, "payjp", original.id, "expired_refunded"), timeout=60)
    return str(customer.id), str(original.id)


def start_repayment(
    outputs: Mapping[str, Any],
    workdir: Path,
    *,
    provider: str,
    original_id: str,
    evidence: Mapping[str, Any],
    document: Path = REPAYMENT_SAMPLES / "consent.eml",
) -> str:
    """The support desk files a re-payment request (``cardops repayment start``, the sample .eml as
    the customer's consent); its id, once the workflow has checked it (awaiting the desk's decision,
    or refused)."""
    request_id = f"rq_{provider}_{secrets.token_hex(4)}"
    request = {
        "request_id": request_id,
        "original_payment": {"provider": provider, "provider_payment_id": original_id},
        "evidence": dict(evidence),
    }
    evidence_file = workdir / f"{request_id}.json"
    evidence_file.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    started = json.loads(
        sandbox_cli(
            outputs, "repayment", "start", "--evidence", str(evidence_file),
            "--document", str(document), "--json",
        )
    )  # fmt: skip
    assert started["status"] in ("started", "awaiting_decision")
    eventually(lambda: repayment(outputs, request_id)["status"] != "started", timeout=60)
    return request_id


def repayment(outputs: Mapping[str, Any], request_id: str) -> Any:
    """A re-payment request as ``cardops repayment show --json`` shows it."""
    return json.loads(sandbox_cli(outputs, "repayment", "show", request_id, "--json"))


def approve_repayment(outputs: Mapping[str, Any], request_id: str) -> Any:
    """The desk approves (the request awaits its decision); the request as shown once charged."""
    sandbox_cli(outputs, "repayment", "approve", request_id, "--reason", "consent by e-mail")
    return eventually(lambda: (r := repayment(outputs, request_id))["status"] == "charged" and r, timeout=60)
