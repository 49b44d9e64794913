from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardops.feeds.domain.normalize import (
    contains_latin,
    display_form,
    enlarge_small_kana,
    has_small_kana,
    normalize_code,
    normalize_kana_name,
    romaji_to_katakana,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ｶﾞｯｺｳ ﾊﾅｺ", "ガッコウハナコ"),  # half-width with dakuten → full-width, space removed
        ("がっこう　はなこ", "ガッコウハナコ"),  # hiragana → katakana, ideographic space removed
        ("カ\u3099ッコウ", "ガッコウ"),  # combining dakuten composed
        ("カ゛ッコウ", "ガッコウ"),  # spacing dakuten composed
        ("ﾊﾟｰｸ", "パーク"),  # half-width handakuten and long vowel
        ("セ-ル", "セール"),  # hyphen after kana is a long vowel
        ("セ〜ル", "セール"),
        ("セ－ル", "セール"),
        ("セ—ル", "セール"),
        ("ＳＥＩＳＡＮ", "SEISAN"),  # full-width ASCII → ASCII
        ("A-1", "A-1"),  # a hyphen between letters stays a hyphen
    ],
)
def test_normalize_removes_what_carries_no_meaning(raw: str, expected: str) -> None:
    assert normalize_kana_name(raw) == expected


def test_normalize_keeps_what_card_companies_treat_as_different() -> None:
    assert normalize_kana_name("ガッコウ") != normalize_kana_name("ガツコウ")
    assert normalize_kana_name("seisan") != normalize_kana_name("セイサン")
    assert normalize_kana_name("seisan") != normalize_kana_name("SEISAN")


@given(st.text(max_size=30))
def test_normalization_is_idempotent(text: str) -> None:
    once = normalize_kana_name(text)
    assert normalize_kana_name(once) == once


kana_or_noise = st.text(
    alphabet=st.sampled_from(
        "アイウエオカガキギッャュョァィゥェォヮーｶﾞｯｰｧ ぁっがゝ゛゜\u3099\u309a-〜ＡａBz1１　"
    ),
    max_size=20,
)


@given(kana_or_noise)
def test_normalization_is_idempotent_on_japanese_text(text: str) -> None:
    once = normalize_kana_name(text)
    assert normalize_kana_name(once) == once
    assert " " not in once and "　" not in once


@given(kana_or_noise)
def test_enlarged_names_hold_no_small_kana(text: str) -> None:
    assert not has_small_kana(enlarge_small_kana(normalize_kana_name(text)))


def test_small_kana_detection_and_enlargement() -> None:
    assert has_small_kana("ガッコウ")
    assert not has_small_kana("ガツコウ")
    assert enlarge_small_kana("ッャュョァィゥェォヮ") == "ツヤユヨアイウエオワ"


def test_romaji_detection_and_proposal() -> None:
    assert contains_latin("seisan")
    assert contains_latin("ｓｅｉｓａｎ")
    assert not contains_latin("セイサン")
    assert romaji_to_katakana("seisan") == "セイサン"
    assert romaji_to_katakana("SEISAN") == "セイサン"
    assert romaji_to_katakana("gakkou") == "ガツコウ"  # card companies register large kana
    assert romaji_to_katakana("xyz") is None  # not romaji: no proposal
    assert romaji_to_katakana("セイサン") is None


def test_display_form_keeps_word_spacing_and_folds_width() -> None:
    assert display_form(" ｶﾞﾂｺｳ　 ﾊﾅｺ ") == "ガツコウ ハナコ"


def test_codes_fold_width_but_keep_case() -> None:
    assert normalize_code(" ＬＫ０００１ ") == "LK0001"
    assert normalize_code("lk0001") != normalize_code("LK0001")
