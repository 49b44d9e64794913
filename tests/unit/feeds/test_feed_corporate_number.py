from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.jp import cn

from cardops.feeds.domain.corporate_number import (
    check_digit,
    corporate_number_problem,
    is_valid_corporate_number,
)

twelve_digits = st.text(alphabet="0123456789", min_size=12, max_size=12)


def test_spec_formula_on_a_known_number() -> None:
    # 8356 7825 6246 weighted 1,2,1,2… from the right: 6+8+2+12+5+4+8+14+6+10+3+16 = 94; 94 % 9 = 4
    assert check_digit("835678256246") == 9 - 4
    assert is_valid_corporate_number("5835678256246")


@given(twelve_digits)
def test_library_agrees_with_spec_formula(body: str) -> None:
    assert cn.calc_check_digit(body) == str(check_digit(body))
    assert corporate_number_problem(f"{check_digit(body)}{body}") is None


@given(twelve_digits, st.integers(min_value=1, max_value=8))
def test_wrong_check_digit_is_invalid(body: str, shift: int) -> None:
    wrong = (check_digit(body) - 1 + shift) % 9 + 1  # another digit in 1..9
    assert corporate_number_problem(f"{wrong}{body}") == "corporate_number_invalid"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing(value: str | None) -> None:
    assert corporate_number_problem(value) == "corporate_number_missing"


@pytest.mark.parametrize("value", ["583567825624", "58356782562467", "583567825624X", "0835678256246"])
def test_invalid_shapes(value: str) -> None:
    assert corporate_number_problem(value) == "corporate_number_invalid"


def test_separators_and_full_width_digits_accepted() -> None:
    assert is_valid_corporate_number("5-8356-7825-6246")
    assert is_valid_corporate_number("５８３５６７８２５６２４６")


def test_check_digit_rejects_bad_body() -> None:
    with pytest.raises(ValueError, match="12 ASCII digits"):
        check_digit("12345")
