"""JSON limits for outside input: exactly where nesting and integer length are refused."""

from __future__ import annotations

import json

import pytest

from cardops.kernel import safe_json


@pytest.mark.parametrize("as_bytes", [False, True])
def test_nesting_up_to_the_limit_is_parsed_one_more_level_is_refused(as_bytes: bool) -> None:
    def nested(depth: int) -> str | bytes:
        text = "[" * (depth - 1) + '{"a": 1}' + "]" * (depth - 1)
        return text.encode() if as_bytes else text

    assert safe_json.loads(nested(safe_json.MAX_DEPTH)) is not None
    with pytest.raises(safe_json.UnsafeJson, match="nested deeper than 64"):
        safe_json.loads(nested(safe_json.MAX_DEPTH + 1))
    with pytest.raises(safe_json.UnsafeJson, match="nested deeper than 64"):
        safe_json.loads("[" * 10_000 + "]" * 10_000)


def test_wide_but_shallow_bodies_are_not_refused() -> None:
    wide = json.dumps({"items": [{"id": n, "tags": [n]} for n in range(500)]})
    assert len(safe_json.loads(wide)["items"]) == 500


def test_integers_up_to_40_digits_are_parsed_longer_ones_are_refused() -> None:
    assert safe_json.loads('{"n": -' + "9" * 40 + "}")["n"] == -int("9" * 40)
    with pytest.raises(safe_json.UnsafeJson, match="integer longer than 40 digits"):
        safe_json.loads('{"n": 1' + "0" * 40 + "}")
    with pytest.raises(safe_json.UnsafeJson, match="integer longer than 40 digits"):
        safe_json.loads("1" + "0" * 5_000)


def test_malformed_json_is_still_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        safe_json.loads("{not json")
