"""The evidence fields against the reservation and the original payment (SPEC §4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cardops.kernel.calendar import TOKYO
from cardops.payments.domain.payments import Payment, PaymentFacts, PaymentMetadata, PaymentStatus
from cardops.payments.domain.repayment import (
    RejectionReason,
    RepaymentEvidence,
    ReservationRecord,
    expected_subject,
    normalize_name,
    normalize_subject,
    normalize_tel,
    validate_evidence,
)

SAMPLES = Path(__file__).parents[3] / "events" / "repayment"
RESERVED_AT = datetime(2025, 3, 5, 18, 0, tzinfo=TOKYO)


def reservation(**overrides: Any) -> ReservationRecord:
    fields: dict[str, Any] = {
        "reservation_id": "rsv_20250301_0007",
        "store_id": "store_042",
        "holder_name": "山田 花子",
        "email": "hanako.yamada@example.jp",
        "tel": "090-1234-5678",
        "reserved_at": RESERVED_AT,
        "amount": 12000,
        "tax_treatment": "inclusive",
        "required_contacts": frozenset({"tel"}),
    }
    fields.update(overrides)
    return ReservationRecord(**fields)


def original_payment(**metadata: Any) -> Payment:
    at = datetime(2025, 3, 1, tzinfo=UTC)
    meta: dict[str, Any] = {"store_id": "store_042", "reservation_id": "rsv_20250301_0007"}
    meta.update(metadata)
    return Payment(
        provider="stripe",
        provider_payment_id="pi_3QzAbC2eZvKYlo2C0xyz9876",
        facts=PaymentFacts(currency="JPY", authorized_amount=12000, authorized_at=at, expired=True),
        metadata=PaymentMetadata(**meta),
        status=PaymentStatus.EXPIRED_REFUNDED,
        created_at=at,
        updated_at=at,
    )


def sample_evidence() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / "evidence.json").read_text(encoding="utf-8"))["evidence"]
    return data


def evidence(**overrides: Any) -> RepaymentEvidence:
    data = sample_evidence()
    data.update(overrides)
    return RepaymentEvidence.model_validate(data)


def reasons(
    ev: RepaymentEvidence, res: ReservationRecord | None = None, pay: Payment | None = None
) -> set[str]:
    return {r.reason.value for r in validate_evidence(ev, res or reservation(), pay or original_payment())}


def test_the_sample_evidence_is_accepted() -> None:
    assert validate_evidence(evidence(), reservation(), original_payment()) == []


@pytest.mark.parametrize(
    "name",
    ["山田花子", "山田　花子", " 山田 花子 ", "山田 花子"],
)
def test_holder_name_ignores_spaces_and_width(name: str) -> None:
    assert reasons(evidence(holder_name=name)) == set()


@pytest.mark.parametrize(
    ("registered", "entered"),
    [
        ("ヤマダ ハナコ", "やまだ はなこ"),  # hiragana vs katakana
        ("ヤマダ ハナコ", "ﾔﾏﾀﾞ ﾊﾅｺ"),  # half-width with dakuten
        ("YAMADA HANAKO", "Yamada Hanako"),  # romaji case
        ("YAMADA HANAKO", "ＹＡＭＡＤＡ　ＨＡＮＡＫＯ"),  # full-width ASCII
    ],
)
def test_holder_name_normalization(registered: str, entered: str) -> None:
    assert normalize_name(registered) == normalize_name(entered)
    assert reasons(evidence(holder_name=entered), reservation(holder_name=registered)) == set()


def test_a_different_holder_is_rejected() -> None:
    assert reasons(evidence(holder_name="山田 太郎")) == {"holder_name_mismatch"}


def test_email_is_case_insensitive_but_must_be_the_same_address() -> None:
    assert reasons(evidence(email="Hanako.Yamada@EXAMPLE.jp")) == set()
    assert reasons(evidence(email="hanako.yamada@example.net")) == {"email_mismatch"}


@pytest.mark.parametrize(
    "tel", ["09012345678", "090 1234 5678", "０９０－１２３４－５６７８", "+81-90-1234-5678"]
)
def test_tel_compares_digits_only(tel: str) -> None:
    assert reasons(evidence(tel=tel)) == set()


def test_plus81_with_a_kept_trunk_zero_is_the_same_number() -> None:
    assert normalize_tel("+81 (0)90-1234-5678") == normalize_tel("090-1234-5678") == "09012345678"


def test_a_different_tel_is_rejected() -> None:
    assert reasons(evidence(tel="090-1234-5679")) == {"tel_mismatch"}


def test_a_required_tel_must_be_given() -> None:
    assert reasons(evidence(tel=None)) == {"contact_missing"}
    assert reasons(evidence(tel=None), reservation(required_contacts=frozenset())) == set()


def test_a_required_mail_contact_must_be_given_and_match() -> None:
    both = reservation(required_contacts=frozenset({"tel", "mail"}))
    assert reasons(evidence(), both) == {"contact_missing"}
    assert reasons(evidence(mail="HANAKO.YAMADA@example.jp"), both) == set()
    assert reasons(evidence(mail="other@example.jp"), both) == {"email_mismatch"}


def test_reserved_at_compares_the_instant_to_the_minute() -> None:
    assert reasons(evidence(reserved_at="2025-03-05T09:00:30Z")) == set()  # same minute, UTC
    assert reasons(evidence(reserved_at="2025-03-05T18:30:00+09:00")) == {"reserved_at_mismatch"}


def test_reservation_id_must_match_reservation_and_payment() -> None:
    assert reasons(evidence(reservation_id="rsv_other")) == {"reservation_id_mismatch"}
    mismatched_payment = original_payment(reservation_id="rsv_different")
    assert reasons(evidence(), pay=mismatched_payment) == {"reservation_id_mismatch"}


def test_amount_may_be_lower_but_never_above_the_original() -> None:
    assert reasons(evidence(amount=11000)) == set()
    assert reasons(evidence(amount=12001)) == {"amount_exceeds_original"}
    assert reasons(evidence(amount=12000), reservation(amount=10000)) == {"amount_exceeds_original"}


def test_tax_treatment_is_required_and_must_match() -> None:
    assert reasons(evidence(tax_treatment=None)) == {"tax_treatment_missing"}
    assert reasons(evidence(tax_treatment="exclusive")) == {"tax_treatment_mismatch"}


@pytest.mark.parametrize(
    "subject",
    [
        "再決済申請:store_042 3月5日",
        "再決済申請：store_042　3月5日",  # full-width colon and space
        "【再決済申請:store_042 3月5日】",  # as the help centre writes it
        "Fwd: 再決済申請:store_042 ３月５日",
        "再決済申請: store_042 3月5日",
    ],
)
def test_accepted_subjects(subject: str) -> None:
    assert reasons(evidence(subject=subject)) == set()


@pytest.mark.parametrize(
    "subject",
    [
        "再決済申請:store_042 03月05日",  # zero padded
        "再決済申請:store_042 3月6日",
        "再決済申請:store_999 3月5日",
        "再決済申請 store_042 3月5日",
        "再決済のお願い",
        "",
        "再決済申請:store_042 3月5日\r\nBcc: x@example.jp",
    ],
)
def test_rejected_subjects(subject: str) -> None:
    assert "subject_invalid" in reasons(evidence(subject=subject))


def test_subject_uses_the_tokyo_date_of_the_reservation() -> None:
    late_utc = datetime(2025, 12, 31, 15, 30, tzinfo=UTC)  # 2026-01-01 00:30 in Tokyo
    assert expected_subject("store_042", late_utc) == "再決済申請:store_042 1月1日"
    assert normalize_subject("Re: RE: 【再決済申請：store_042 1月1日】") == "再決済申請:store_042 1月1日"


def test_store_must_match_reservation_and_payment() -> None:
    assert reasons(evidence(store_id="store_999")) == {"store_mismatch"}
    assert "store_mismatch" in reasons(evidence(), pay=original_payment(store_id="store_777"))


def test_every_mismatch_is_reported_at_once_and_without_personal_data() -> None:
    bad = evidence(
        holder_name="佐藤 一郎",
        email="ichiro@example.net",
        tel="03-0000-0000",
        reserved_at=(RESERVED_AT + timedelta(days=1)).isoformat(),
        reservation_id="rsv_x",
        amount=99999,
        tax_treatment=None,
        store_id="store_x",
        subject="hello",
    )
    rejections = validate_evidence(bad, reservation(), original_payment())
    assert {r.reason for r in rejections} == {
        RejectionReason.HOLDER_NAME_MISMATCH,
        RejectionReason.EMAIL_MISMATCH,
        RejectionReason.TEL_MISMATCH,
        RejectionReason.RESERVED_AT_MISMATCH,
        RejectionReason.RESERVATION_ID_MISMATCH,
        RejectionReason.AMOUNT_EXCEEDS_ORIGINAL,
        RejectionReason.TAX_TREATMENT_MISSING,
        RejectionReason.SUBJECT_INVALID,
        RejectionReason.STORE_MISMATCH,
    }
    text = " ".join(r.message for r in rejections)
    for secret in ("佐藤", "ichiro@example.net", "03-0000-0000", "hanako", "山田"):
        assert secret not in text
