"""Re-payment workflow fixtures: moto with the real definition and handlers, a PAY.JP emulator."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cardops import resources
from cardops.kernel import clock
from cardops.kernel.config import reset_settings
from cardops.payments.domain.payments import CanonicalEvent, EventKind, PaymentFacts, PaymentMetadata
from cardops.payments.domain.reservations import Reservation
from cardops.payments.providers.payjp.client import charge_to_payment
from cardops.payments.store.payments import PaymentRepository, ReservationRepository
from cardops.payments.use_cases.payment_events import apply_canonical
from cardops.sandbox.payjp_emulator import PayjpEmulator
from tests.helpers import call

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "events" / "repayment"
FIXTURES = ROOT / "tests" / "unit" / "repayment" / "fixtures"
RESERVATION_ID = "rsv_20250301_0007"
STORE_ID = "store_042"
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@pytest.fixture
def emulator() -> Iterator[PayjpEmulator]:
    payjp = PayjpEmulator(secret_key=resources.SANDBOX_SECRETS["payjp_secret_key"])
    payjp.start()
    yield payjp
    payjp.stop()


@pytest.fixture
def env(provisioned: Any, emulator: PayjpEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PAYJP_API_BASE", emulator.url)
    monkeypatch.setenv("REPAYMENT_DECISION_TIMEOUT_SECONDS", "60")
    reset_settings()
    put_reservation()
    return provisioned


def put_reservation(**overrides: Any) -> None:
    fields: dict[str, Any] = {
        "reservation_id": RESERVATION_ID,
        "store_id": STORE_ID,
        "holder_name": "山田 花子",
        "email": "hanako.yamada@example.jp",
        "tel": "090-1234-5678",
        "reserved_at": datetime.fromisoformat("2025-03-05T18:00:00+09:00"),
        "amount": 12000,
        "tax_treatment": "inclusive",
        "updated_at": clock.now(),
    }
    fields.update(overrides)
    ReservationRepository().put(Reservation(**fields))


def original_payment(
    emulator: PayjpEmulator,
    *,
    token: str = "tok_visa",  # noqa: S107 - a PAY.JP test card token
    expire: bool = True,
    authorized_days_ago: int = 0,
) -> str:
    """A PAY.JP customer and an uncaptured charge, recorded as the capture-deadline workflow would."""
    customer = emulator.create_customer({"card": token})
    charge = emulator.create_charge(
        {
            "amount": "12000",
            "currency": "jpy",
            "customer": customer["id"],
            "capture": "false",
            "metadata": {"store_id": STORE_ID, "reservation_id": RESERVATION_ID, "visit_date": "2025-03-05"},
        }
    )
    snapshot = charge_to_payment(charge)
    now = clock.now()
    authorized_at = now - timedelta(days=authorized_days_ago)
    facts = snapshot.facts.model_copy(update={"authorized_at": authorized_at})
    payments = PaymentRepository()
    apply_canonical(
        CanonicalEvent(
            provider="payjp",
            provider_payment_id=charge["id"],
            event_id=f"evt_auth_{charge['id']}",
            kind=EventKind.AUTHORIZED,
            occurred_at=authorized_at,
            facts=facts,
            metadata=snapshot.metadata,
        ),
        payments,
        now=now,
    )
    if expire:
        apply_canonical(
            CanonicalEvent(
                provider="payjp",
                provider_payment_id=charge["id"],
                event_id=f"evt_expired_{charge['id']}",
                kind=EventKind.AUTHORIZATION_EXPIRED,
                occurred_at=now,
                facts=PaymentFacts(expired=True, canceled=True),
                metadata=PaymentMetadata(),
                actor="capture_deadline",
            ),
            payments,
            now=now,
        )
    return str(charge["id"])


def start_body(
    charge_id: str,
    *,
    request_id: str = "rq_test_0001",
    document: bytes | None = None,
    kind: str = "eml",
    **evidence: Any,
) -> dict[str, Any]:
    sample = json.loads((SAMPLES / "evidence.json").read_text(encoding="utf-8"))
    fields = {k: v for k, v in sample["evidence"].items() if k != "document"}
    fields.update(evidence)
    content = document if document is not None else (SAMPLES / "consent.eml").read_bytes()
    return {
        "request_id": request_id,
        "original_payment": {"provider": "payjp", "provider_payment_id": charge_id},
        "evidence": fields,
        "document": {"kind": kind, "content_base64": base64.b64encode(content).decode()},
    }


def admin(method: str, path: str, body: Any = None) -> tuple[int, Any]:
    from cardops.handlers import admin as admin_handler

    return call(admin_handler.handler, method, path, body)


def wait_for_execution(arn: str, timeout: float = 30.0) -> dict[str, Any]:
    from cardops.kernel import aws

    deadline = time.monotonic() + timeout
    while True:
        described = aws.stepfunctions().describe_execution(executionArn=arn)
        if described["status"] in TERMINAL:
            return dict(described)
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still {described['status']}")
        time.sleep(0.05)


def wait_for_status(request_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        code, body = admin("GET", f"/admin/repayments/{request_id}")
        assert code == 200, body
        if body["status"] == status:
            return dict(body)
        if time.monotonic() > deadline:
            raise AssertionError(f"request is {body['status']}, not {status}")
        time.sleep(0.05)
