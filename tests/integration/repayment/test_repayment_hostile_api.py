"""Hostile evidence through the admin API: refused at the door, or a named rejection, never a crash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cardops.handlers import admin as admin_handler
from cardops.kernel import aws
from cardops.kernel.config import reset_settings
from cardops.sandbox.payjp_emulator import PayjpEmulator
from tests.helpers import call
from tests.integration.repayment.conftest import (
    FIXTURES,
    SAMPLES,
    admin,
    original_payment,
    start_body,
    wait_for_execution,
)


def test_an_oversized_document_is_refused_before_anything_is_stored(
    env: Any, emulator: PayjpEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPAYMENT_MAX_DOCUMENT_BYTES", "1000")
    reset_settings()  # settings are read once per process: read the new value
    charge_id = original_payment(emulator)
    code, body = admin("POST", "/admin/repayments", start_body(charge_id))  # consent.eml is 1513 bytes
    assert code == 413 and body["error"]["code"] == "document_too_large"
    assert admin("GET", "/admin/repayments/rq_test_0001")[0] == 404
    assert aws.s3().list_objects_v2(Bucket=env.evidence_bucket).get("KeyCount", 0) == 0
    assert (
        aws.stepfunctions().list_executions(stateMachineArn=env.state_machine_arns["Repayment"])["executions"]
        == []
    )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'\xff\xfe{"request_id": "rq_1"}', 400),  # not UTF-8 at all
        (json.dumps({"request_id": "rq_1"}).encode("utf-16"), 400),
        (b"\x82\xa0\x82\xa2", 400),  # Shift_JIS bytes
        ("再決済申請 but not JSON".encode(), 422),
    ],
)
def test_a_body_that_is_not_utf8_json_is_a_client_error(env: Any, raw: bytes, status: int) -> None:
    code, body = call(admin_handler.handler, "POST", "/admin/repayments", raw)
    assert code == status, body


def test_malformed_start_requests_are_refused(env: Any, emulator: PayjpEmulator) -> None:
    charge_id = original_payment(emulator)
    body = start_body(charge_id)
    body["document"]["content_base64"] = "not base64 !!"
    assert admin("POST", "/admin/repayments", body)[1]["error"]["code"] == "invalid_document_encoding"
    code, bad = admin("POST", "/admin/repayments", start_body(charge_id, reserved_at="2025-03-05T18:00:00"))
    assert code == 422 and bad["error"]["code"] == "invalid_evidence"
    code, bad = admin("POST", "/admin/repayments", start_body(charge_id, store_id="../other"))
    assert code == 422 and bad["error"]["code"] == "invalid_key"
    code, bad = admin("POST", "/admin/repayments", start_body(charge_id, request_id="a/../b"))
    assert code == 422
    code, bad = admin("POST", "/admin/repayments", start_body(charge_id, document=b""))
    assert code == 422


HOSTILE = [
    ("non_utf8_subject.eml", "eml", "eml_header_invalid"),
    ("duplicate_from.eml", "eml", "eml_duplicate_header"),
    ("header_injection.eml", "eml", "eml_header_injection"),
    ("address_injection.eml", "eml", "eml_header_injection"),
    ("display_name_spoof.eml", "eml", "eml_correspondent_mismatch"),
    ("not_an_email.eml", "eml", "eml_missing_header"),
    ("not_a_pdf.pdf", "pdf", "pdf_invalid"),
    ("truncated.pdf", "pdf", "pdf_invalid"),
    ("javascript.pdf", "pdf", "pdf_active_content"),
    ("other_store.eml", "eml", "document_store_mismatch"),
]


def test_hostile_documents_end_as_named_rejections(env: Any, emulator: PayjpEmulator) -> None:
    charge_id = original_payment(emulator)
    arns = {}
    for n, (name, kind, _) in enumerate(HOSTILE):
        document = (FIXTURES / name).read_bytes()
        body = start_body(charge_id, request_id=f"rq_h{n}", document=document, kind=kind)
        code, started = admin("POST", "/admin/repayments", body)
        assert code == 201, (name, started)
        arns[name] = started["execution_arn"]
    # an e-mail declared as a PDF is not a PDF either
    body = start_body(charge_id, request_id="rq_hkind", kind="pdf")
    arns["consent.eml as pdf"] = admin("POST", "/admin/repayments", body)[1]["execution_arn"]

    expected = {name: reason for name, _, reason in HOSTILE} | {"consent.eml as pdf": "pdf_invalid"}
    for name, arn in arns.items():
        described = wait_for_execution(arn)
        assert described["status"] == "SUCCEEDED", name
        output = json.loads(described["output"])
        assert output["outcome"] == "evidence_rejected", name
        assert expected[name] in {r["reason"] for r in output["rejections"]}, (name, output["rejections"])
        assert all(r["field"] == "document" for r in output["rejections"]), name
    assert not [c for c in emulator.charges.values() if c["metadata"].get("repayment_request_id")]


def test_the_pdf_sample_is_accepted_and_the_document_is_stored_private_with_its_checksum(
    env: Any, emulator: PayjpEmulator
) -> None:
    charge_id = original_payment(emulator)
    content = (SAMPLES / "consent.pdf").read_bytes()
    code, started = admin("POST", "/admin/repayments", start_body(charge_id, document=content, kind="pdf"))
    assert code == 201
    key = started["document_key"]
    assert key == "evidence/store_042/rq_test_0001/consent.pdf"
    head = aws.s3().head_object(Bucket=env.evidence_bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/pdf" and head["ServerSideEncryption"] == "AES256"
    assert "ChecksumSHA256" in head
    import hashlib

    assert started["document_sha256"] == hashlib.sha256(content).hexdigest()
    code, shown = admin("GET", "/admin/repayments/rq_test_0001")
    deadline_status = shown["status"]
    assert deadline_status in ("started", "awaiting_decision")
    output_status = None
    for _ in range(200):
        code, shown = admin("GET", "/admin/repayments/rq_test_0001")
        output_status = shown["status"]
        if output_status == "awaiting_decision":
            break
        import time

        time.sleep(0.05)
    assert output_status == "awaiting_decision"
    assert shown["rejections"] == []
