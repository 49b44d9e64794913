"""Logging without personal data (SPEC §9): every log record is masked before it is written.

Powertools' Logger writes structured JSON; ``MaskingFormatter`` runs over the finished record and
replaces e-mail addresses, phone numbers, card numbers (13–19 digits passing Luhn) and anything
that looks like a provider secret. Names are masked by key (``holder_name``, ``name_kana`` …),
since a name cannot be recognised by its shape.

Records leave out what the log group already says: ``inject_lambda_context`` adds the function's
name, memory size and ARN to every line, but each function writes to its own log group (its name)
and its memory is in the template, so they cost ingestion bytes and say nothing. The request id,
cold start and X-Ray trace id stay: they tell one invocation from another.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w-])(?:\+81[- ]?|0)\d{1,4}[- ]?\d{1,4}[- ]?\d{3,4}(?![\w-])")
DIGIT_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
SECRET = re.compile(
    r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9_]{6,}|\bwhsec_[A-Za-z0-9_]{6,}|\bwhook_[A-Za-z0-9_]{6,}"
)
NAME_KEYS = frozenset({"holder_name", "name", "name_kana", "customer_name", "email", "tel", "phone"})
MASK = "***"
#: keys of Powertools' Lambda context the log group names already (issue 13: log bytes)
REDUNDANT_KEYS = frozenset({"function_name", "function_memory_size", "function_arn"})


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return MASK if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def mask_text(text: str) -> str:
    text = SECRET.sub(MASK, text)
    text = EMAIL.sub(MASK, text)
    text = PHONE.sub(MASK, text)  # before cards: a phone number next to a card would hide its start
    return DIGIT_RUN.sub(_card, text)


def mask_value(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in NAME_KEYS and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v) for v in value]
    return value


class MaskingFormatter(LambdaPowertoolsFormatter):
    def append_keys(self, **additional_keys: Any) -> None:
        """Every way Powertools sets keys (``inject_lambda_context`` on each invocation, with or
        without clearing the state, and ``Logger.append_keys``) comes through here, so the redundant
        keys never enter the formatter's state and no record pays for them."""
        super().append_keys(**{k: v for k, v in additional_keys.items() if k not in REDUNDANT_KEYS})

    def serialize(self, log: Any) -> str:
        return super().serialize(mask_value(dict(log)))


def make_logger(service: str, **kwargs: Any) -> Logger:
    """The one way cardops creates a Logger, so no function can forget the masking."""
    return Logger(service=service, logger_formatter=MaskingFormatter(), **kwargs)
