"""End to end through `cardops local`: an auto-refunded reservation is charged again with consent.

The official payjp library creates the customer and the original (uncaptured) charge in the PAY.JP
emulator; the charge is released (refunded) and marked expired as the capture-deadline workflow
would; the support desk starts the request with the sample .eml from events/, approves it with the
CLI, and a new captured charge appears in the emulator, linked to the original.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import payjp
import pytest
import urllib3
from click.testing import CliRunner

from cardops.cli.main import cli
from tests.conftest import SandboxProcess
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "repayment"
HTTP = urllib3.PoolManager()


def api(sandbox: SandboxProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    response = HTTP.request(
        method, f"{sandbox.api}{path}", body=data, headers={"Content-Type": "application/json"}
    )
    return response.status, json.loads(response.data or b"null")


def cardops(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_expired_refunded_reservation_is_charged_again_after_approval(
    sandbox: SandboxProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payjp.api_base = sandbox.outputs["PayjpApiBaseUrl"]
    payjp.api_key = sandbox.outputs["PayjpSecretKey"]
    sample = json.loads((SAMPLES / "evidence.json").read_text(encoding="utf-8"))
    evidence = sample["evidence"]
    reservation_id = f"rsv_e2e_{secrets.token_hex(4)}"
    evidence["reservation_id"] = reservation_id
    code, _ = api(
        sandbox,
        "PUT",
        f"/admin/reservations/{reservation_id}",
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
    assert code == 200

    customer = payjp.Customer.create(card="tok_visa", email=evidence["email"])
    original = payjp.Charge.create(
        amount=12000,
        currency="jpy",
        customer=customer.id,
        capture=False,
        metadata={
            "store_id": evidence["store_id"],
            "reservation_id": reservation_id,
            "visit_date": "2025-03-05",
            "accepted_at": "2025-03-01T10:00:00+09:00",
        },
    )
    eventually(lambda: api(sandbox, "GET", f"/admin/payments/payjp/{original.id}")[0] == 200)
    # the visit date is long past: the capture-deadline workflow cancels it at once (予約不成立)
    eventually(
        lambda: (
            api(sandbox, "GET", f"/admin/payments/payjp/{original.id}")[1]["status"] == "expired_refunded"
        ),
        timeout=60,
    )
    assert payjp.Charge.retrieve(original.id).refunded

    # the request as the support desk files it: the sample evidence, the sample .eml
    request_id = f"rq_e2e_{secrets.token_hex(4)}"
    request = {
        "request_id": request_id,
        "original_payment": {"provider": "payjp", "provider_payment_id": original.id},
        "evidence": evidence,
    }
    evidence_file = tmp_path / "evidence.json"
    evidence_file.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(sandbox.outputs), encoding="utf-8")
    target = ("--outputs", str(outputs))

    started = json.loads(
        cardops(
            "repayment", "start", "--evidence", str(evidence_file), "--document",
            str(SAMPLES / "consent.eml"), *target, "--json",
        )
    )  # fmt: skip
    assert started["status"] in ("started", "awaiting_decision")

    def status() -> str:
        return str(json.loads(cardops("repayment", "show", request_id, *target, "--json"))["status"])

    eventually(lambda: status() == "awaiting_decision")
    cardops("repayment", "approve", request_id, "--reason", "consent by e-mail", *target)
    eventually(lambda: status() == "charged")

    shown = json.loads(cardops("repayment", "show", request_id, *target, "--json"))
    new_id = shown["new_payment"]["provider_payment_id"]
    charge = payjp.Charge.retrieve(new_id)
    assert charge.captured is True and charge.amount == 12000
    assert charge.customer == customer.id
    assert charge.metadata["repayment_of"] == original.id
    assert charge.metadata["reservation_id"] == reservation_id
    payment = eventually(lambda: api(sandbox, "GET", f"/admin/payments/payjp/{new_id}")[1])
    assert payment["status"] == "captured" and payment["reservation_id"] == reservation_id

    text = cardops("repayment", "show", request_id, *target)
    assert "Charge the saved card once" in text and "✓" in text
    assert request_id in cardops("repayment", "list", *target)
