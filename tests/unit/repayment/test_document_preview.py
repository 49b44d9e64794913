"""The consent document's preview for the support desk (issue 15): headers decoded, nothing run."""

from __future__ import annotations

from pathlib import Path

from cardops.payments.domain.repayment import PREVIEW_VALUE_CHARS, preview_document

SAMPLES = Path(__file__).resolve().parents[3] / "events" / "repayment"


def test_an_email_shows_its_decoded_correspondents_and_subject() -> None:
    content = (SAMPLES / "consent.eml").read_bytes()
    preview = preview_document("eml", content, len(content))
    headers = dict(preview.headers)
    assert [name for name, _ in preview.headers] == ["From", "To", "Cc", "Date", "Subject"]
    assert "hanako.yamada@example.jp" in headers["From"] and "山田" in headers["From"]  # ISO-2022-JP decoded
    assert "support@example.jp" in headers["Cc"]
    assert preview.note is None and preview.size == len(content)


def test_a_pdf_shows_its_version_and_hostile_bytes_are_unreadable_not_a_crash() -> None:
    pdf = (SAMPLES / "consent.pdf").read_bytes()
    assert preview_document("pdf", pdf, len(pdf)).pdf_version is not None
    assert preview_document("pdf", b"<html>", 6).note == "not a PDF"
    assert preview_document("eml", None, 10**9).note == "too large to preview"
    long_subject = b"From: a@example.jp\r\nSubject: " + b"x" * 5000 + b"\r\n\r\nbody"
    assert len(dict(preview_document("eml", long_subject, len(long_subject)).headers)["Subject"]) == (
        PREVIEW_VALUE_CHARS
    )
    garbage = bytes(range(256)) * 4
    assert preview_document("eml", garbage, len(garbage)).kind == "eml"
