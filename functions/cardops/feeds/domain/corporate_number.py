"""法人番号 (corporate number) validation (SPEC §7): a tenant without a valid one gets no lines linked.

13 digits; the first is a check digit: 9 − (Σ of the other 12 digits weighted 1,2,1,2… from the
right) mod 9. The check itself is python-stdnum's ``stdnum.jp.cn``; ``check_digit`` spells the
spec's formula out so the tests can hold the library to it.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from stdnum.exceptions import ValidationError
from stdnum.jp import cn

CorporateNumberReason = Literal["corporate_number_missing", "corporate_number_invalid"]


def check_digit(body: str) -> int:
    """The spec's check digit for the 12 digits that follow it."""
    if len(body) != 12 or not body.isascii() or not body.isdigit():
        raise ValueError("the body of a corporate number is 12 ASCII digits")
    weighted = sum(int(digit) * (1 if index % 2 == 0 else 2) for index, digit in enumerate(reversed(body)))
    return 9 - weighted % 9


def compact(value: str) -> str:
    """Full-width digits and the usual separators (spaces, hyphens) removed."""
    return cn.compact(unicodedata.normalize("NFKC", value))


def corporate_number_problem(value: str | None) -> CorporateNumberReason | None:
    """Why a tenant's registered corporate number blocks linking, or None when it is valid."""
    if value is None or not value.strip():
        return "corporate_number_missing"
    try:
        cn.validate(compact(value))
    except ValidationError:
        return "corporate_number_invalid"
    return None


def why_invalid(value: str) -> str | None:
    """A sentence naming what is wrong with a corporate number, or None when it is valid."""
    number = compact(value)
    if len(number) != 13 or not number.isascii() or not number.isdigit():
        return f"corporate number {value!r} is not 13 digits"
    expected = check_digit(number[1:])
    if int(number[0]) != expected:
        return f"corporate number {value!r} fails its check digit (the first digit should be {expected})"
    return None


def is_valid_corporate_number(value: str | None) -> bool:
    return corporate_number_problem(value) is None
