"""The re-payment-evidence rules of SPEC §4 (再決済), as pure functions.

After an automatic refund (予約不成立) a new charge needs the customer's documented consent,
reviewed by the support desk. These functions decide, without I/O, whether the evidence matches
the original reservation and payment, whether the evidence document is what it claims to be, and
whether the card may be charged again. Every problem is a named ``Rejection`` — hostile or broken
input never raises — so the workflow can show the support desk all of them at once.

Rejection messages name the field, never its value: they end up in logs and execution history,
which must not carry personal data (SPEC §9).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import AddressHeader
from email.message import EmailMessage, Message
from email.parser import BytesParser
from enum import StrEnum
from typing import Any, Literal

import jaconv
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cardops.kernel.calendar import TOKYO
from cardops.payments.domain.payments import Payment, PaymentStatus

TaxTreatment = Literal["inclusive", "exclusive"]
ContactField = Literal["tel", "mail"]
DocumentKind = Literal["pdf", "eml"]
AlternativeMethod = Literal["bank_transfer", "pay_at_store"]

DEFAULT_MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DEFAULT_WINDOW = timedelta(days=60)
CONTENT_TYPES: dict[DocumentKind, str] = {"pdf": "application/pdf", "eml": "message/rfc822"}
SUBJECT_PREFIX = "再決済申請:"


class RejectionReason(StrEnum):
    # evidence fields against the reservation and the original payment
    HOLDER_NAME_MISMATCH = "holder_name_mismatch"
    EMAIL_MISMATCH = "email_mismatch"
    TEL_MISMATCH = "tel_mismatch"
    CONTACT_MISSING = "contact_missing"
    RESERVED_AT_MISMATCH = "reserved_at_mismatch"
    RESERVATION_ID_MISMATCH = "reservation_id_mismatch"
    AMOUNT_EXCEEDS_ORIGINAL = "amount_exceeds_original"
    TAX_TREATMENT_MISSING = "tax_treatment_missing"
    TAX_TREATMENT_MISMATCH = "tax_treatment_mismatch"
    SUBJECT_INVALID = "subject_invalid"
    STORE_MISMATCH = "store_mismatch"
    DOCUMENT_TYPE_MISMATCH = "document_type_mismatch"
    # the evidence document itself
    DOCUMENT_EMPTY = "document_empty"
    DOCUMENT_TOO_LARGE = "document_too_large"
    DOCUMENT_CHECKSUM_MISMATCH = "document_checksum_mismatch"
    DOCUMENT_SIZE_MISMATCH = "document_size_mismatch"
    DOCUMENT_STORE_MISMATCH = "document_store_mismatch"
    PDF_INVALID = "pdf_invalid"
    PDF_ACTIVE_CONTENT = "pdf_active_content"
    EML_UNPARSEABLE = "eml_unparseable"
    EML_MISSING_HEADER = "eml_missing_header"
    EML_DUPLICATE_HEADER = "eml_duplicate_header"
    EML_HEADER_INJECTION = "eml_header_injection"
    EML_HEADER_INVALID = "eml_header_invalid"
    EML_CORRESPONDENT_MISMATCH = "eml_correspondent_mismatch"


class Rejection(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: RejectionReason
    field: str
    message: str


class EvidenceDocument(BaseModel):
    """The consent document the support desk uploaded to the evidence bucket."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1, max_length=1024)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: Literal["application/pdf", "message/rfc822"]
    size: int = Field(ge=1)

    @property
    def kind(self) -> DocumentKind:
        return "pdf" if self.content_type == "application/pdf" else "eml"


class RepaymentEvidence(BaseModel):
    """What the support desk enters from the customer's consent (SPEC §4).

    ``tax_treatment`` is required by the rule, yet optional in the model: a missing value must be
    the named rejection ``tax_treatment_missing`` the support desk can act on, not a parse error.
    """

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    holder_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    tel: str | None = Field(default=None, max_length=32)
    #: the contact e-mail, when the booking form required MAIL as a contact
    mail: str | None = Field(default=None, max_length=320)
    reserved_at: AwareDatetime
    reservation_id: str = Field(min_length=1, max_length=128)
    amount: int = Field(ge=1)
    tax_treatment: TaxTreatment | None = None
    store_id: str = Field(min_length=1, max_length=64)
    subject: str = Field(max_length=300)
    document: EvidenceDocument


class ReservationRecord(BaseModel):
    """The reservation as registered at booking: the reference the evidence must match."""

    model_config = ConfigDict(frozen=True)

    reservation_id: str
    store_id: str
    holder_name: str
    email: str
    tel: str | None = None
    reserved_at: AwareDatetime
    amount: int = Field(ge=0)
    tax_treatment: TaxTreatment
    #: the contact fields the store's booking form made mandatory (TEL and/or MAIL)
    required_contacts: frozenset[ContactField] = frozenset()


# -- normalization ------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fwd?|転送|返信)\s*:\s*)+", re.IGNORECASE)


def normalize_name(name: str) -> str:
    """Compare names as the support desk reads them: width, hiragana/katakana, spaces, case.

    NFKC folds full-width ASCII and half-width katakana (ﾔﾏﾀﾞ → ヤマダ) and the ideographic space;
    hira2kata folds やまだ → ヤマダ; all whitespace goes; case folds for romaji (YAMADA = Yamada).
    """
    folded = jaconv.hira2kata(unicodedata.normalize("NFKC", name))
    return _SPACES.sub("", folded).casefold()


def normalize_email(address: str) -> str:
    return unicodedata.normalize("NFKC", address).strip().casefold()


def normalize_tel(tel: str) -> str:
    """Digits only, with an international +81 prefix read as the domestic leading 0."""
    text = unicodedata.normalize("NFKC", tel).strip()
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    if text.startswith("+81") and digits.startswith("81"):
        digits = "0" + digits[2:].removeprefix("0")
    return digits


def expected_subject(store_id: str, reserved_at: datetime) -> str:
    """``再決済申請:{store_id} {M}月{D}日`` with the reservation's Tokyo month/day, unpadded."""
    day = reserved_at.astimezone(TOKYO).date()
    return f"{SUBJECT_PREFIX}{store_id} {day.month}月{day.day}日"


def normalize_subject(subject: str) -> str:
    """NFKC (full-width colon and digits), single spaces, no 【】 brackets, no Re:/Fwd: prefixes."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", subject)).strip()
    text = _REPLY_PREFIX.sub("", text).strip()
    if text.startswith("【") and text.endswith("】"):
        text = text[1:-1].strip()
    return re.sub(r"\s*:\s*", ":", text, count=1)


def _minute_in_tokyo(moment: datetime) -> datetime:
    """Documents show the reservation to the minute (18:00), so compare at that precision."""
    return moment.astimezone(TOKYO).replace(second=0, microsecond=0)


# -- evidence against the reservation and payment ----------------------------------------------


def validate_evidence(
    evidence: RepaymentEvidence, reservation: ReservationRecord, payment: Payment
) -> list[Rejection]:
    """Every field of the evidence against the reservation and the original payment."""
    out: list[Rejection] = []

    def reject(reason: RejectionReason, field: str, message: str) -> None:
        out.append(_rejection(reason, field, message))

    stores = {reservation.store_id} | ({payment.metadata.store_id} if payment.metadata.store_id else set())
    if len(stores) > 1 or evidence.store_id not in stores:
        reject(RejectionReason.STORE_MISMATCH, "store_id", "store does not match the reservation and payment")

    reservation_ids = {reservation.reservation_id}
    if payment.metadata.reservation_id:
        reservation_ids.add(payment.metadata.reservation_id)
    if len(reservation_ids) > 1 or evidence.reservation_id not in reservation_ids:
        reject(
            RejectionReason.RESERVATION_ID_MISMATCH,
            "reservation_id",
            "reservation id does not match the reservation and payment",
        )

    if normalize_name(evidence.holder_name) != normalize_name(reservation.holder_name):
        reject(
            RejectionReason.HOLDER_NAME_MISMATCH, "holder_name", "holder name differs from the reservation"
        )

    if normalize_email(evidence.email) != normalize_email(reservation.email):
        reject(RejectionReason.EMAIL_MISMATCH, "email", "e-mail differs from the reservation address")

    out.extend(_contact_rejections(evidence, reservation))

    if _minute_in_tokyo(evidence.reserved_at) != _minute_in_tokyo(reservation.reserved_at):
        reject(RejectionReason.RESERVED_AT_MISMATCH, "reserved_at", "reservation date-time differs")

    original = _original_amount(payment)
    if original is None or evidence.amount > original or evidence.amount > reservation.amount:
        reject(
            RejectionReason.AMOUNT_EXCEEDS_ORIGINAL,
            "amount",
            "amount exceeds the original payment or reservation amount",
        )

    if evidence.tax_treatment is None:
        reject(
            RejectionReason.TAX_TREATMENT_MISSING,
            "tax_treatment",
            "税込/税抜 (inclusive/exclusive) is required",
        )
    elif evidence.tax_treatment != reservation.tax_treatment:
        reject(
            RejectionReason.TAX_TREATMENT_MISMATCH,
            "tax_treatment",
            "tax treatment differs from the reservation",
        )

    wanted = expected_subject(reservation.store_id, reservation.reserved_at)
    if normalize_subject(evidence.subject) != wanted:
        reject(
            RejectionReason.SUBJECT_INVALID,
            "subject",
            f"subject must read {SUBJECT_PREFIX}{{store_id}} {{M}}月{{D}}日",
        )

    return out


def _contact_rejections(evidence: RepaymentEvidence, reservation: ReservationRecord) -> list[Rejection]:
    """TEL/MAIL: present when the booking form required them, equal to the reservation when given."""
    out: list[Rejection] = []
    for field in sorted(reservation.required_contacts):
        if not getattr(evidence, field):
            out.append(
                _rejection(RejectionReason.CONTACT_MISSING, field, f"{field.upper()} was required at booking")
            )
    tel_differs = evidence.tel is not None and (
        reservation.tel is None or normalize_tel(evidence.tel) != normalize_tel(reservation.tel)
    )
    if tel_differs:
        out.append(_rejection(RejectionReason.TEL_MISMATCH, "tel", "TEL differs from the reservation"))
    if evidence.mail and normalize_email(evidence.mail) != normalize_email(reservation.email):
        out.append(
            _rejection(RejectionReason.EMAIL_MISMATCH, "mail", "contact e-mail differs from the reservation")
        )
    return out


def _rejection(reason: RejectionReason, field: str, message: str) -> Rejection:
    return Rejection(reason=reason, field=field, message=message)


def _original_amount(payment: Payment) -> int | None:
    """The amount the customer authorized originally (the uncaptured hold that expired)."""
    amount = payment.facts.amount
    return amount if amount > 0 else None


# -- the evidence document ---------------------------------------------------------------------

_PDF_HEADER = re.compile(rb"\A%PDF-[12]\.\d")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_ACTIVE = re.compile(
    rb"/(?:JavaScript|JS|Launch|EmbeddedFile|RichMedia|SubmitForm|ImportData)(?![A-Za-z])"
)
_SINGLE_HEADERS = ("from", "sender", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to")
_ADDRESS_HEADERS = ("from", "to", "cc")
_MAX_NESTED_MESSAGES = 5


def validate_document(
    content: bytes,
    kind: DocumentKind,
    reservation_email: str,
    support_address: str,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    *,
    store_id: str | None = None,
    declared: EvidenceDocument | None = None,
) -> list[Rejection]:
    """Is the uploaded document a real consent document of this reservation?

    A PDF must look like one (``%PDF-`` header, ``%%EOF`` trailer) and carry no active content.
    An e-mail (.eml) must be the thread with the **unchanged** reservation address (it is the
    From or a To of the message) or carry the support address in Cc; a message forwarded as an
    attachment (message/rfc822) counts. ``declared`` checks the bytes against the size and
    SHA-256 recorded with the evidence; ``store_id`` refuses a request subject naming another store.
    """
    out: list[Rejection] = []
    if not content:
        return [_doc(RejectionReason.DOCUMENT_EMPTY, "document is empty")]
    if len(content) > max_bytes:
        return [_doc(RejectionReason.DOCUMENT_TOO_LARGE, f"document exceeds {max_bytes} bytes")]
    if declared is not None:
        if declared.size != len(content):
            out.append(_doc(RejectionReason.DOCUMENT_SIZE_MISMATCH, "size differs from the declared size"))
        if declared.sha256 != hashlib.sha256(content).hexdigest():
            out.append(
                _doc(RejectionReason.DOCUMENT_CHECKSUM_MISMATCH, "SHA-256 differs from the declared one")
            )
        if declared.kind != kind:
            out.append(
                _doc(RejectionReason.DOCUMENT_TYPE_MISMATCH, "content type differs from the declared one")
            )
    if kind == "pdf":
        out.extend(_pdf_rejections(content))
    else:
        out.extend(_eml_rejections(content, reservation_email, support_address, store_id))
    return out


def _doc(reason: RejectionReason, message: str) -> Rejection:
    return _rejection(reason, "document", message)


def _pdf_rejections(content: bytes) -> list[Rejection]:
    if not _PDF_HEADER.match(content) or b"%%EOF" not in content[-2048:]:
        return [_doc(RejectionReason.PDF_INVALID, "not a PDF (%PDF- header and %%EOF trailer required)")]
    # PDF names may hide letters as #xx escapes (/J#61vaScript): unescape before looking
    unescaped = _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), content)
    if _PDF_ACTIVE.search(unescaped):
        return [
            _doc(RejectionReason.PDF_ACTIVE_CONTENT, "PDF carries scripts, launch actions or attachments")
        ]
    return []


def _eml_rejections(
    content: bytes, reservation_email: str, support_address: str, store_id: str | None
) -> list[Rejection]:
    try:
        message = BytesParser(policy=policy.default).parsebytes(content)
    except Exception:  # the parser on hostile bytes: any failure is a rejection
        return [_doc(RejectionReason.EML_UNPARSEABLE, "not a parseable e-mail message")]
    if not isinstance(message, EmailMessage) or "from" not in message:
        return [_doc(RejectionReason.EML_MISSING_HEADER, "e-mail has no From header")]

    out: list[Rejection] = []
    matched = False
    customer = normalize_email(reservation_email)
    support = normalize_email(support_address)
    for part in _messages(message):
        headers = _read_headers(part)
        out.extend(headers.rejections)
        if headers.rejections:
            continue
        if not headers.addresses.get("to") and not headers.addresses.get("cc"):
            out.append(_doc(RejectionReason.EML_MISSING_HEADER, "e-mail has no recipient"))
            continue
        sender = headers.addresses.get("from", [])
        if len(sender) != 1:
            out.append(_doc(RejectionReason.EML_HEADER_INVALID, "e-mail must have exactly one From address"))
            continue
        if (
            sender[0] == customer
            or customer in headers.addresses.get("to", [])
            or support in headers.addresses.get("cc", [])
        ):
            matched = True
        if store_id is not None and headers.subject is not None:
            named = _store_in_subject(headers.subject)
            if named is not None and named != store_id:
                out.append(
                    _doc(RejectionReason.DOCUMENT_STORE_MISMATCH, "e-mail is a request for another store")
                )
    if not matched:
        out.append(
            _doc(
                RejectionReason.EML_CORRESPONDENT_MISMATCH,
                "e-mail is neither with the unchanged reservation address nor has the support desk in Cc",
            )
        )
    return _unique(out)


class _Headers:
    def __init__(self) -> None:
        self.rejections: list[Rejection] = []
        self.addresses: dict[str, list[str]] = {}
        self.subject: str | None = None


def _read_headers(message: Message) -> _Headers:
    """Read the headers that matter; duplicates, injections and undecodable values are refusals."""
    result = _Headers()
    names = [key.lower() for key in message]
    for name in _SINGLE_HEADERS:
        if names.count(name) > 1:
            result.rejections.append(
                _doc(RejectionReason.EML_DUPLICATE_HEADER, f"{name} header appears twice")
            )
    if result.rejections:
        return result
    for name in _SINGLE_HEADERS:
        if name not in names:
            continue
        try:
            value: Any = message[name]
            text = str(value)
        except Exception as exc:  # the header parser on hostile input: any failure is a refusal
            injected = "CR or LF" in str(exc)
            reason = RejectionReason.EML_HEADER_INJECTION if injected else RejectionReason.EML_HEADER_INVALID
            result.rejections.append(_doc(reason, f"{name} header cannot be read"))
            continue
        if any(ch in text for ch in "\r\n\x00"):
            result.rejections.append(
                _doc(RejectionReason.EML_HEADER_INJECTION, f"{name} header has line breaks")
            )
            continue
        if "\ufffd" in text or any("\udc80" <= ch <= "\udcff" for ch in text):
            result.rejections.append(
                _doc(RejectionReason.EML_HEADER_INVALID, f"{name} header is not valid text")
            )
            continue
        if name == "subject":
            result.subject = text
        if name in _ADDRESS_HEADERS:
            addresses = _addresses(value)
            if addresses is None:
                result.rejections.append(
                    _doc(RejectionReason.EML_HEADER_INVALID, f"{name} header has an invalid address")
                )
            else:
                result.addresses[name] = addresses
    return result


def _addresses(value: Any) -> list[str] | None:
    defects: tuple[object, ...] = getattr(value, "defects", ())
    if not isinstance(value, AddressHeader) or defects:
        return None
    found: list[str] = []
    for address in value.addresses:
        spec = address.addr_spec
        if not address.username or not address.domain or not spec.isascii():
            return None
        found.append(normalize_email(spec))
    return found


def _messages(message: Message) -> Iterable[Message]:
    """The message and the messages forwarded inside it as attachments, depth-first, bounded."""
    stack: list[Message] = [message]
    seen = 0
    while stack and seen < _MAX_NESTED_MESSAGES:
        current = stack.pop()
        seen += 1
        yield current
        if current.is_multipart():
            for part in current.walk():
                if part is not current and part.get_content_type() == "message/rfc822":
                    payload = part.get_payload()
                    inner = payload if isinstance(payload, list) else [payload]
                    stack.extend(item for item in inner if isinstance(item, Message))


def _store_in_subject(subject: str) -> str | None:
    normalized = normalize_subject(subject)
    if not normalized.startswith(SUBJECT_PREFIX):
        return None
    rest = normalized[len(SUBJECT_PREFIX) :].strip()
    return rest.split(" ", 1)[0] or None


def _unique(rejections: Sequence[Rejection]) -> list[Rejection]:
    seen: set[tuple[RejectionReason, str]] = set()
    out: list[Rejection] = []
    for rejection in rejections:
        key = (rejection.reason, rejection.message)
        if key not in seen:
            seen.add(key)
            out.append(rejection)
    return out


# -- eligibility -------------------------------------------------------------------------------


#: the headers the support desk compares with the reservation before deciding (SPEC §4)
PREVIEW_HEADERS = ("From", "To", "Cc", "Date", "Subject")
#: the most of one header value a preview shows
PREVIEW_VALUE_CHARS = 300


class DocumentPreview(BaseModel):
    """What the support desk sees of a consent document before deciding: an e-mail's headers, a
    PDF's version and size. Built from the stored bytes; never rendered as HTML or executed."""

    model_config = ConfigDict(frozen=True)

    kind: DocumentKind
    size: int
    #: ``(name, value)`` of the outer message's headers, in ``PREVIEW_HEADERS`` order
    headers: tuple[tuple[str, str], ...] = ()
    pdf_version: str | None = None
    #: why nothing more is shown (too large, unreadable)
    note: str | None = None


def preview_document(kind: DocumentKind, content: bytes | None, size: int) -> DocumentPreview:
    if content is None:
        return DocumentPreview(kind=kind, size=size, note="too large to preview")
    if kind == "pdf":
        header = _PDF_HEADER.match(content)
        version = content[5:8].decode("ascii", "replace") if header else None
        return DocumentPreview(
            kind=kind, size=size, pdf_version=version, note=None if header else "not a PDF"
        )
    try:
        message = BytesParser(policy=policy.default).parsebytes(content, headersonly=True)
        headers = tuple(
            (name, str(message[name])[:PREVIEW_VALUE_CHARS])
            for name in PREVIEW_HEADERS
            if message[name] is not None
        )
    except Exception:  # the parser on hostile bytes: shown as unreadable, never a crash
        return DocumentPreview(kind=kind, size=size, note="not a parseable e-mail message")
    return DocumentPreview(kind=kind, size=size, headers=headers)


class IneligibleReason(StrEnum):
    NOT_EXPIRED_REFUNDED = "not_expired_refunded"
    WINDOW_PASSED = "window_passed"
    CARD_NOT_REUSABLE = "card_not_reusable"
    BRAND_DISALLOWS = "brand_disallows"


ALTERNATIVE_METHODS: tuple[AlternativeMethod, ...] = ("bank_transfer", "pay_at_store")


class Eligibility(BaseModel):
    """``eligible``, or the alternatives the store offers instead (銀行振込 or 店頭払い)."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["eligible", "alternative_payment_required"]
    reason: IneligibleReason | None = None
    reasons: tuple[IneligibleReason, ...] = ()
    suggested_methods: tuple[AlternativeMethod, ...] = ()
    window_ends_at: datetime | None = None

    @property
    def eligible(self) -> bool:
        return self.outcome == "eligible"


def original_payment_time(payment: Payment) -> datetime:
    """When the customer originally paid: the authorization, else when we first saw the payment."""
    return payment.facts.authorized_at or payment.created_at


def check_eligibility(
    payment: Payment,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    *,
    card_reusable: bool,
    brand_allows_mit: bool,
) -> Eligibility:
    """May the card be charged again (SPEC §4)? All failing reasons are kept; the first leads.

    ``card_reusable``: the provider still holds a reusable card/customer. ``brand_allows_mit``:
    the card brand accepts a merchant-initiated charge. Both come from the provider adapter.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    window_ends_at = original_payment_time(payment) + window
    reasons: list[IneligibleReason] = []
    if payment.status is not PaymentStatus.EXPIRED_REFUNDED:
        reasons.append(IneligibleReason.NOT_EXPIRED_REFUNDED)
    if now > window_ends_at:
        reasons.append(IneligibleReason.WINDOW_PASSED)
    if not card_reusable:
        reasons.append(IneligibleReason.CARD_NOT_REUSABLE)
    if not brand_allows_mit:
        reasons.append(IneligibleReason.BRAND_DISALLOWS)
    if not reasons:
        return Eligibility(outcome="eligible", window_ends_at=window_ends_at)
    return Eligibility(
        outcome="alternative_payment_required",
        reason=reasons[0],
        reasons=tuple(reasons),
        suggested_methods=ALTERNATIVE_METHODS,
        window_ends_at=window_ends_at,
    )


def repayment_idempotency_key(request_id: str) -> str:
    """The provider idempotency key of a re-payment: one charge per request, however often retried.

    Hashed so any request id becomes a short key of safe characters (Stripe allows 255).
    """
    if not request_id or not request_id.strip():
        raise ValueError("request_id must not be empty")
    digest = hashlib.sha256(request_id.encode("utf-8")).hexdigest()[:40]
    return f"cardops-repayment-{digest}"
