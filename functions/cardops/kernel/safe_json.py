"""JSON from outside callers, parsed with limits: hostile input is a clear 400, never a crash.

``json.loads`` raises ``RecursionError`` on deep nesting (10,000 ``[``) and a bare ``ValueError``
on integers over Python's 4,300-digit conversion limit; neither is a ``JSONDecodeError``, so
handlers that only expect that one would crash (a 502 behind API Gateway). Here both, and any
nesting or integer beyond what a payment API needs, become ``UnsafeJson``.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
"""Deeper than any provider event or admin body; deep enough for every legitimate payload."""

MAX_INT_DIGITS = 40
"""Money is at most 19 digits (int64); 40 leaves room for any identifier sent as a number."""


class UnsafeJson(ValueError):
    """Well-formed or not, JSON this service refuses to parse (too deep, integer too long)."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise UnsafeJson(f"JSON integer longer than {MAX_INT_DIGITS} digits ({len(text)} characters)")
    return int(text)


def _depth(value: Any) -> int:
    """The nesting depth, without recursion (the value may come from a JSON parser's own limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads(text: str | bytes) -> Any:
    """``json.loads`` with limits. Malformed JSON still raises ``json.JSONDecodeError``."""
    try:
        value = json.loads(text, parse_int=_parse_int)
    except RecursionError as exc:
        raise UnsafeJson(f"JSON nested deeper than {MAX_DEPTH} levels") from exc
    # nesting needs an opening bracket per level: most bodies have too few to need the walk
    brackets = (
        text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")
    )
    if brackets > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise UnsafeJson(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value
