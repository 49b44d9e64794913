"""SB Payment Service's wire format: the ``sps-api-request`` XML, its check code, its answers.

Sources (public):

- SBPS developer site, API type basic specifications (``developer.sbpayment.jp``, "接続方式 / API型 /
  基本仕様"): XML 1.0 in Shift_JIS, one ``sps-api-request`` whose ``id`` attribute is the function
  id, answered by one ``sps-api-response``; values are used as they are, tabs and newlines inside a
  value are errors; the link-type notifications are form posts in Shift_JIS whose fields arrive in
  any order (so a check code is computed in the defined field order, never in arrival order).
- The open-source clients ``sbpayment.rb`` (``lib/sbpayment/sbps_hashcode.rb``,
  ``api/credit/*.rb``, ``api_error/definitions.rb``) and ``sbpayment-java``
  (``creditcard/requests/*``, ``responses/PaymentStatus.java``, ``CommitStatus.java``): the
  credit-card function ids, the element order of each request, the check code
  (``sps_hashcode`` = SHA-1 hex of every value in element order, trimmed, then the hash key, as
  Shift_JIS bytes), and the error code layout (3 characters of payment method, 2 of error type,
  3 of item).

What is not public (the endpoint of a merchant's contract, its merchant/service ids and hash key)
is configuration: ``SBPS_API_URL`` and the provider API keys secret.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

from cardops.kernel.calendar import TOKYO

if TYPE_CHECKING:  # parsing is imported when a call needs it: the webhook function only hashes
    from xml.etree.ElementTree import Element as XmlElement

#: SBPS documents Shift_JIS; Windows-31J (cp932) is the superset SBPS's systems actually emit
ENCODING: Final = "cp932"
HASH_FIELD: Final = "sps_hashcode"

#: credit-card function ids (API type); ``…-101`` is the credit-card payment method
COMMIT: Final = "ST02-00101-101"  # コミット(与信確定)
CAPTURE: Final = "ST02-00201-101"  # 売上要求(売上確定), optional amount ≤ the authorized amount
CANCEL_REFUND: Final = "ST02-00303-101"  # 取消返金要求: releases an authorization, refunds a capture
PARTIAL_REFUND: Final = "ST02-00307-101"  # 部分返金要求, with the amount
LOOKUP: Final = "MG01-00101-101"  # 決済結果参照要求
#: 決済要求 (トークン利用), sbpayment-java ``CardAuthorizeRequest``: with a ``cust_code`` whose card
#: SBPS keeps and no token, SBPS authorizes the stored card (``BySavedCard``; ``cust_manage_flg`` 0)
AUTHORIZE: Final = "ST01-00131-101"
#: 顧客決済情報参照要求 (sbpayment.rb ``ReadCustomerRequest``, sbpayment-java ``CardInfoLookupRequest``):
#: the card kept under a ``cust_code`` (brand, masked number, expiry); NG when none is kept
CUSTOMER_LOOKUP: Final = "MG02-00104-101"

#: ``payment_status`` of a lookup (sbpayment-java ``PaymentStatus``)
PAYMENT_STATUS = {"1": "authorized", "2": "captured", "3": "canceled", "4": "refunded"}
#: error types (the 4th–5th characters of ``res_err_code``) that are SBPS's or a card network's
#: trouble, not a refusal: GW/system/connection errors. The same request may succeed later.
TRANSIENT_ERROR_TYPES = frozenset({"80", "83", "84", "85", "86", "90", "92"})
#: credit-card error types that mean "this was already done": the answer to a retried request
#: whose first attempt succeeded but whose answer was lost (SBPS takes no idempotency key)
ALREADY_CAPTURED: Final = "41"
ALREADY_CANCELED = frozenset({"45", "52"})
ALREADY_REFUNDED: Final = "46"
#: 自動売上 service: the commit captured already, a capture request is "not needed" (37)
AUTO_CAPTURED: Final = "37"
#: the error items (the last 3 characters of ``res_err_code``) of the customer id and purchase id
ITEM_CUSTOMER: Final = "003"
ITEM_ORDER: Final = "004"
#: ``cardbrand_code`` (sbpayment-java ``CreditCardBrand``) as the card brands ``REPAYMENT_MIT_BRANDS`` names
BRANDS: Final = {"V": "Visa", "M": "Mastercard", "J": "JCB", "A": "American Express", "D": "Diners Club"}
_DATE = re.compile(r"^\d{14}$")
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?\?>")
_DECLARED_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([A-Za-z0-9_.-]+)[\"']")
#: what SBPS may declare, as Python names it (expat itself reads no multi-byte encoding)
_ENCODINGS = {"shift_jis": ENCODING, "shift-jis": ENCODING, "sjis": ENCODING, "windows-31j": ENCODING,
              "cp932": ENCODING, "utf-8": "utf-8", "utf8": "utf-8"}  # fmt: skip
_FORBIDDEN = re.compile(r"[\t\r\n]")


class ProtocolError(ValueError):
    """An answer that is not a readable ``sps-api-response``."""


def sps_timestamp(at: datetime) -> str:
    """``YYYYMMDDhhmmss`` in Asia/Tokyo, as SBPS writes every date."""
    return at.astimezone(TOKYO).strftime("%Y%m%d%H%M%S")


def parse_timestamp(text: str) -> datetime:
    if not _DATE.match(text):
        raise ProtocolError(f"not an SBPS timestamp: {text[:20]!r}")
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=TOKYO)


def check_code(values: Iterable[str], hash_key: str, *, encoding: str = ENCODING) -> str:
    """SHA-1 (lower-case hex) of the values in order, each trimmed, then the hash key."""
    joined = b"".join(value.encode(encoding).strip() for value in values) + hash_key.encode(encoding)
    return hashlib.sha1(joined, usedforsecurity=False).hexdigest()


def check_code_of_bytes(values: Iterable[bytes], hash_key: str) -> str:
    """The same check code over values exactly as they were received (any encoding)."""
    joined = b"".join(value.strip() for value in values) + hash_key.encode("ascii")
    return hashlib.sha1(joined, usedforsecurity=False).hexdigest()


#: one element of a request: a value, or a nested element with its own children
Element = tuple[str, "str | Sequence[Element]"]


def _flat_values(elements: Sequence[Element]) -> list[str]:
    values: list[str] = []
    for _, value in elements:
        values.extend([value] if isinstance(value, str) else _flat_values(value))
    return values


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})


def escape(value: str) -> str:
    return value.translate(_ESCAPES)


def _render(elements: Sequence[Element]) -> str:
    parts: list[str] = []
    for name, value in elements:
        if isinstance(value, str):
            if _FORBIDDEN.search(value):
                raise ValueError(f"SBPS refuses tabs and newlines in values ({name})")
            parts.append(f"<{name}>{escape(value)}</{name}>")
        else:
            parts.append(f"<{name}>{_render(value)}</{name}>")
    return "".join(parts)


def build_request(function_id: str, elements: Sequence[Element], hash_key: str) -> bytes:
    """An ``sps-api-request`` with its check code appended, encoded as SBPS reads it."""
    code = check_code(_flat_values(elements), hash_key)
    body = _render([*elements, (HASH_FIELD, code)])
    xml = (
        f'<?xml version="1.0" encoding="Shift_JIS"?>'
        f'<sps-api-request id="{function_id}">{body}</sps-api-request>'
    )
    return xml.encode(ENCODING)


@dataclass(frozen=True)
class Response:
    """An ``sps-api-response``: ``res_result`` OK or NG and the values it carried (nested as a/b)."""

    function_id: str
    ok: bool
    values: dict[str, str] = field(default_factory=dict)

    @property
    def error_code(self) -> str:
        return self.values.get("res_err_code", "")

    @property
    def error_type(self) -> str:
        """The two characters after the payment method: what kind of error (SBPS's table)."""
        return self.error_code[3:5]

    @property
    def item(self) -> str:
        """The last three characters: which field the error is about (``ITEM_*``)."""
        return self.error_code[5:8]

    @property
    def transient(self) -> bool:
        return self.error_type in TRANSIENT_ERROR_TYPES


def _walk(element: XmlElement, prefix: str, into: dict[str, str]) -> None:
    for child in element:
        name = f"{prefix}{child.tag}"
        if len(child):
            _walk(child, f"{name}/", into)
        else:
            into[name] = (child.text or "").strip()


#: the largest answer read: a lookup is a few hundred bytes; a bigger one is not SBPS's
MAX_RESPONSE_BYTES: Final = 64 * 1024


def _root(data: bytes) -> XmlElement:
    """The document element of Shift_JIS (or UTF-8) XML; a document type is refused unparsed."""
    from xml.etree import ElementTree

    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise ProtocolError("the document declares a document type")
    declaration = _DECLARATION.match(data)
    declared = _DECLARED_ENCODING.search(declaration.group(0)) if declaration else None
    name = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    if name not in _ENCODINGS:
        raise ProtocolError(f"unexpected encoding {name[:20]!r}")
    try:
        text = data[declaration.end() if declaration else 0 :].decode(_ENCODINGS[name])
        return ElementTree.fromstring(text)  # noqa: S314 - no DTD (refused above): nothing to expand
    except (UnicodeDecodeError, ElementTree.ParseError) as exc:
        raise ProtocolError(f"not readable XML: {exc}") from exc


def parse_response(data: bytes) -> Response:
    """Read an answer; declarations of entities are refused before any parsing (no expansion)."""
    if len(data) > MAX_RESPONSE_BYTES:
        raise ProtocolError("SBPS answer too large")
    root = _root(data)
    if root.tag != "sps-api-response":
        raise ProtocolError(f"SBPS answer has root <{root.tag[:40]}>")
    values: dict[str, str] = {}
    _walk(root, "", values)
    result = values.get("res_result", "")
    if result not in ("OK", "NG"):
        raise ProtocolError(f"SBPS answer has res_result {result[:10]!r}")
    return Response(function_id=root.get("id", ""), ok=result == "OK", values=values)


def render_response(function_id: str, values: Sequence[Element]) -> bytes:
    """An ``sps-api-response`` as SBPS writes it (used by the sandbox's emulator and tests)."""
    xml = (
        f'<?xml version="1.0" encoding="Shift_JIS"?>'
        f'<sps-api-response id="{function_id}">{_render(values)}</sps-api-response>'
    )
    return xml.encode(ENCODING)


def parse_request(data: bytes) -> tuple[str, list[tuple[str, str]], str]:
    """(function id, every value in document order as (path, value), presented check code).

    The emulator's side of :func:`build_request`; the values keep their order because the check
    code is over that order.
    """
    root = _root(data)
    if root.tag != "sps-api-request":
        raise ProtocolError("not an sps-api-request")
    pairs: list[tuple[str, str]] = []

    def walk(element: XmlElement, prefix: str) -> None:
        for child in element:
            name = f"{prefix}{child.tag}"
            if len(child):
                walk(child, f"{name}/")
            else:
                pairs.append((name, child.text or ""))

    walk(root, "")
    presented = [value for name, value in pairs if name == HASH_FIELD]
    values = [(name, value) for name, value in pairs if name != HASH_FIELD]
    return root.get("id", ""), values, presented[0] if len(presented) == 1 else ""
