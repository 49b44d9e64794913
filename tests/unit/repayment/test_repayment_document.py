"""The evidence document: real PDFs and e-mail threads pass, hostile ones are named rejections."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardops.payments.domain.repayment import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentKind,
    EvidenceDocument,
    RepaymentEvidence,
    validate_document,
)

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SAMPLES = HERE.parents[2] / "events" / "repayment"
CUSTOMER = "hanako.yamada@example.jp"
SUPPORT = "support@example.jp"


def check(
    content: bytes,
    kind: DocumentKind,
    *,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    declared: EvidenceDocument | None = None,
) -> set[str]:
    rejections = validate_document(
        content, kind, CUSTOMER, SUPPORT, max_bytes, store_id="store_042", declared=declared
    )
    return {r.reason.value for r in rejections}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_the_sample_iso_2022_jp_thread_is_accepted() -> None:
    assert check((SAMPLES / "consent.eml").read_bytes(), "eml") == set()


def test_the_sample_pdf_is_accepted() -> None:
    assert check((SAMPLES / "consent.pdf").read_bytes(), "pdf") == set()


@pytest.mark.parametrize("sample", ["evidence.json", "evidence_pdf.json"])
def test_the_sample_requests_declare_their_documents_exactly(sample: str) -> None:
    request = json.loads((SAMPLES / sample).read_text(encoding="utf-8"))
    evidence = RepaymentEvidence.model_validate(request["evidence"])
    content = (SAMPLES / Path(evidence.document.key).name).read_bytes()
    assert check(content, evidence.document.kind, declared=evidence.document) == set()


def test_a_utf8_thread_is_accepted() -> None:
    assert check(fixture("consent_utf8.eml"), "eml") == set()


def test_a_thread_with_another_address_but_support_in_cc_is_accepted() -> None:
    assert check(fixture("support_in_cc.eml"), "eml") == set()


def test_a_thread_forwarded_as_an_attachment_is_accepted() -> None:
    assert check(fixture("forwarded_as_attachment.eml"), "eml") == set()


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("changed_address.eml", "eml", {"eml_correspondent_mismatch"}),
        ("display_name_spoof.eml", "eml", {"eml_correspondent_mismatch"}),
        ("other_store.eml", "eml", {"document_store_mismatch"}),
        ("duplicate_from.eml", "eml", {"eml_duplicate_header", "eml_correspondent_mismatch"}),
        ("header_injection.eml", "eml", {"eml_header_injection", "eml_correspondent_mismatch"}),
        ("address_injection.eml", "eml", {"eml_header_injection", "eml_correspondent_mismatch"}),
        ("non_utf8_subject.eml", "eml", {"eml_header_invalid", "eml_correspondent_mismatch"}),
        ("not_an_email.eml", "eml", {"eml_missing_header"}),
        ("not_a_pdf.pdf", "pdf", {"pdf_invalid"}),
        ("truncated.pdf", "pdf", {"pdf_invalid"}),
        ("javascript.pdf", "pdf", {"pdf_active_content"}),
    ],
)
def test_hostile_documents_are_named_rejections(name: str, kind: DocumentKind, expected: set[str]) -> None:
    assert check(fixture(name), kind) == expected


def test_a_pdf_checked_as_an_email_and_an_email_as_a_pdf() -> None:
    pdf = (SAMPLES / "consent.pdf").read_bytes()
    eml = (SAMPLES / "consent.eml").read_bytes()
    assert check(pdf, "eml") == {"eml_missing_header"}
    assert check(eml, "pdf") == {"pdf_invalid"}


def test_oversized_and_empty_documents() -> None:
    big = b"%PDF-1.4\n" + b"0" * DEFAULT_MAX_DOCUMENT_BYTES + b"\n%%EOF\n"
    assert check(big, "pdf") == {"document_too_large"}
    assert check(b"%PDF-1.4\n%%EOF", "pdf", max_bytes=10) == {"document_too_large"}
    assert check(b"", "eml") == {"document_empty"}


def test_declared_checksum_size_and_type_are_verified() -> None:
    content = (SAMPLES / "consent.pdf").read_bytes()
    honest = EvidenceDocument(
        key="evidence/x.pdf",
        sha256=hashlib.sha256(content).hexdigest(),
        content_type="application/pdf",
        size=len(content),
    )
    assert check(content, "pdf", declared=honest) == set()
    swapped = content.replace(b"12000", b"99000")
    assert check(swapped, "pdf", declared=honest) == {"document_checksum_mismatch"}
    wrong_type = honest.model_copy(update={"content_type": "message/rfc822"})
    assert check(content, "pdf", declared=wrong_type) == {"document_type_mismatch"}
    assert check(content + b"\n", "pdf", declared=honest) == {
        "document_checksum_mismatch",
        "document_size_mismatch",
    }


def test_the_customer_address_is_compared_case_insensitively() -> None:
    content = (SAMPLES / "consent.eml").read_bytes()
    rejections = validate_document(content, "eml", "Hanako.Yamada@Example.JP", "nobody@example.org")
    assert rejections == []


def test_without_the_support_address_the_customer_must_be_a_correspondent() -> None:
    content = fixture("support_in_cc.eml")
    rejections = validate_document(content, "eml", CUSTOMER, "other-desk@example.org")
    assert {r.reason.value for r in rejections} == {"eml_correspondent_mismatch"}


@settings(max_examples=300, deadline=None)
@given(content=st.binary(max_size=4096), kind=st.sampled_from(["pdf", "eml"]))
def test_arbitrary_bytes_never_raise(content: bytes, kind: DocumentKind) -> None:
    validate_document(content, kind, CUSTOMER, SUPPORT, store_id="store_042")


_HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["=?utf-8?b?DQpDYzogeEB5Lmpw?=", "<", "a@b, c@d", "=?iso-2022-jp?b?GyRC?=", '"x" <@>']),
)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(
        st.tuples(st.sampled_from(["From", "To", "Cc", "Subject", "Sender", "X-Any"]), _HEADER_VALUES),
        max_size=8,
    )
)
def test_arbitrary_headers_never_raise(headers: list[tuple[str, str]]) -> None:
    raw = b"".join(
        f"{name}: {value}".encode("utf-8", "surrogateescape").replace(b"\n", b" ") + b"\r\n"
        for name, value in headers
    )
    validate_document(raw + b"\r\nbody\r\n", "eml", CUSTOMER, SUPPORT, store_id="store_042")
