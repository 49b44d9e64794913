"""Concurrency against the moto server over real HTTP: the database, not Python, keeps the rules.

50 concurrent partial refunds whose sum exceeds the capture → the accepted ones sum to at most the
captured amount, the rest are refused with ``RefundExceedsCapturedError``; 100 concurrent ledger
postings (with duplicates) → balance = Σ entries, none lost or doubled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from cardops import resources
from cardops.kernel import aws
from cardops.kernel.config import reset_settings
from cardops.ledger.domain.ledger import AdjustmentReason, Channel, EntryKind
from cardops.ledger.store import LedgerStore, RefundStore
from cardops.ledger.wiring import ledger_service
from cardops.payments.domain.refunds import RefundExceedsCapturedError, RefundReason
from cardops.payments.wiring import refund_service
from tests.integration.ledger.conftest import capture_payment


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # moto's DynamoDB serialized per request, as ``provision`` does for the sandbox (see its module)
    from cardops.sandbox import atomic_dynamodb

    atomic_dynamodb.install()

    from cardops.sandbox.provision import provision
    from cardops.sandbox.stream_poller import change_feed
    from tests import helpers

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws.reset_clients()
    try:
        made = provision(dict(resources.SANDBOX_SECRETS), prefix=f"cardops-conc-{uuid.uuid4().hex[:8]}")
        for key, value in made.environment(payjp_api_base="http://127.0.0.1:9").items():
            monkeypatch.setenv(key, value)
        reset_settings()
        aws.dynamodb()  # create the shared client before the threads use it
        helpers.use_change_feed(change_feed(made))  # the stream read over HTTP, as in the sandbox
        yield endpoint
    finally:
        helpers.use_change_feed(None)
        aws.reset_clients()
        reset_settings()
        server.stop()


def test_50_concurrent_partial_refunds_never_exceed_the_capture(moto_server: str) -> None:
    captured = 10_000
    capture_payment("sandbox", "pay_conc", store_id="store-c", amount=captured)
    service = refund_service(providers={})
    now = datetime.now(UTC)

    def attempt(i: int) -> tuple[str, Any]:
        try:
            refund, created = service.request(
                "sandbox",
                "pay_conc",
                amount=300 + i,  # 50 × ~325 ≈ 16,225 > 10,000
                reason=RefundReason.CUSTOMER_REQUEST,
                idempotency_key=f"k{i}",
                now=now,
                actor="arn:aws:iam::000000000000:user/finance",
            )
        except RefundExceedsCapturedError as exc:
            return "refused", exc
        assert created
        return "accepted", refund

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))
    accepted = [r for kind, r in results if kind == "accepted"]
    refused = [r for kind, r in results if kind == "refused"]
    assert len(accepted) + len(refused) == 50
    assert refused, "the requests sum to more than the capture: some must be refused"
    total = sum(r.amount for r in accepted)
    assert total <= captured
    stored = RefundStore().of_payment("sandbox", "pay_conc")
    assert sorted(r.refund_id for r in stored) == sorted(r.refund_id for r in accepted)
    assert RefundStore().remaining("sandbox", "pay_conc") == captured - total
    assert all(exc.remaining < exc.requested for exc in refused)
    ledger = LedgerStore().load("store-c", Channel.STANDARD, "JPY")
    refunds_posted = [e for e in ledger.ledger.entries if e.kind is EntryKind.REFUND]
    assert -sum(e.amount for e in refunds_posted) == total
    assert ledger.stored_balance == ledger.ledger.balance == captured - 470 - total


def test_100_concurrent_postings_keep_balance_equal_to_the_entries(moto_server: str) -> None:
    service = ledger_service()
    now = datetime.now(UTC)
    amounts = [(i * 37) % 1_000 - 400 or 1 for i in range(100)]

    def post(i: int) -> None:
        service.adjust(
            "store-p",
            Channel.STANDARD,
            "JPY",
            adjustment_id=f"adj-{i % 100}",
            amount=amounts[i % 100],
            reason=AdjustmentReason.TAX_RATE_CHANGE,
            memo="",
            now=now,
            actor=f"arn:aws:iam::000000000000:user/finance-{i % 3}",
        )

    # 100 distinct postings, and 20 of them sent twice at the same time: none lost, none doubled
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(post, [*range(100), *range(20)]))
    stored = LedgerStore().load("store-p", Channel.STANDARD, "JPY")
    assert len(stored.ledger.entries) == 100
    assert stored.ledger.balance == sum(amounts)
    assert stored.stored_balance == sum(amounts)
