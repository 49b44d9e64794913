"""What carries no meaning in a name or code, and what card companies treat as different (SPEC §7).

Normalized away (``normalize_kana_name``): character width (half-width katakana with dakuten →
full-width, full-width ASCII → ASCII), combining and spacing dakuten (composed), hiragana →
katakana, spaces, and long-vowel mark variants (〜, －, —, ｰ and hyphens after kana → ー).

Kept, because card companies register names in large kana and upper case and treat the rest as a
different name: small kana (ッ is registered as ツ) and romaji where kana is expected. Those are
detected here (``has_small_kana``, ``contains_latin``) so matching can name the registration error
and propose the card company's form (``enlarge_small_kana``, ``romaji_to_katakana``).

Width and kana conversions come from ``unicodedata`` and ``jaconv``. The few hand rules are the
ones no library does: spacing dakuten (゛゜) to combining marks, hyphens after kana as long vowels,
and small kana → large kana by Unicode character name (jaconv's table misses ヮ and ㇰ-ㇿ).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jaconv

#: Spacing (voiced) sound marks: NFKC turns them into "space + combining mark", which then cannot
#: compose with the kana before them. Turned into the combining marks first.
_SPACING_TO_COMBINING = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})
_WHITESPACE = re.compile(r"\s+")
#: Dash-like characters following a katakana or a long-vowel mark are long-vowel marks.
_LONG_VOWEL_AFTER_KANA = re.compile(r"(?<=[\u30a1-\u30fa\u30fc])[-~\u2010-\u2015\u2212\u2500\u2501\u30fc]+")
_LATIN = re.compile(r"[A-Za-z]")
_KATAKANA_ONLY = re.compile(r"[\u30a1-\u30fa\u30fc]+")
#: A sokuon (ッ) that ends a word or precedes a vowel, ン or another ッ cannot come from real romaji
#: (alphabet2kata turns stray consonants such as "xyz" into ッッッ).
_STRAY_SOKUON = re.compile(r"\u30c3(?=$|[\u30c3\u30a2\u30a4\u30a6\u30a8\u30aa\u30f3])")
_SMALL_PREFIX = "KATAKANA LETTER SMALL "


def fold_width(text: str) -> str:
    """Width and composition only: half-width kana → full-width, full-width ASCII → ASCII."""
    return jaconv.normalize(unicodedata.normalize("NFKC", text.translate(_SPACING_TO_COMBINING)), "NFKC")


def _normalize_once(text: str) -> str:
    folded = _WHITESPACE.sub("", fold_width(text))
    katakana = jaconv.hira2kata(folded)
    unified = _LONG_VOWEL_AFTER_KANA.sub(lambda m: "ー" * len(m.group()), katakana)
    return unicodedata.normalize("NFC", unified)


@lru_cache(maxsize=65536)
def normalize_kana_name(text: str) -> str:
    """The matching key of a kana name: everything without meaning removed, nothing else.

    Applied until it no longer changes anything, so it is idempotent even for inputs where one
    compatibility mapping produces a character another rule rewrites.
    """
    current = text
    for _ in range(4):
        following = _normalize_once(current)
        if following == current:
            break
        current = following
    return current


@lru_cache(maxsize=65536)
def normalize_code(text: str) -> str:
    """A linkage or employee code: width folded and whitespace removed; case is kept."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text))


def display_form(text: str) -> str:
    """A name as it should be stored: folded width, katakana, single spaces, nothing enlarged."""
    words = [normalize_kana_name(word) for word in _WHITESPACE.split(fold_width(text).strip())]
    return " ".join(word for word in words if word)


def _large(char: str) -> str:
    name = unicodedata.name(char, "")
    if name.startswith(_SMALL_PREFIX):
        return unicodedata.lookup("KATAKANA LETTER " + name.removeprefix(_SMALL_PREFIX))
    return char


def has_small_kana(text: str) -> bool:
    """True when the (katakana) text holds a small kana such as ッャュョァィゥェォヮ."""
    return any(unicodedata.name(char, "").startswith(_SMALL_PREFIX) for char in text)


def enlarge_small_kana(text: str) -> str:
    """Small katakana replaced by the large kana card companies register (ッ → ツ, ャ → ヤ)."""
    return "".join(_large(char) for char in text)


def contains_latin(text: str) -> bool:
    """True when a name holds Latin letters (after width folding), i.e. romaji."""
    return _LATIN.search(fold_width(text)) is not None


def romaji_to_katakana(text: str) -> str | None:
    """The katakana a card company would register for a romaji name, or None when not derivable.

    Uses ``jaconv.alphabet2kata``; the result is upper-/large-kana form (ガッコウ → ガツコウ). When
    letters remain or stray sokuon show the input was not romaji, no proposal is made.
    """
    compact = _WHITESPACE.sub("", fold_width(text)).lower()
    if not compact or not compact.isascii():
        return None
    converted = jaconv.alphabet2kata(compact)
    if not _KATAKANA_ONLY.fullmatch(converted) or _STRAY_SOKUON.search(converted):
        return None
    return enlarge_small_kana(converted)
