"""Settings: the environment, read once per process, here and nowhere else.

Nothing else in the functions reads ``os.environ`` (a test in tests/unit enforces it): a variable
the stack sets is a field of the one model, ``model.Settings``, with the stack's name as its alias.
Read lazily, never at import time, so tests and the sandbox can set the environment first, and
cached until ``reset_settings()``. Secrets are never here: only the Secrets Manager id that holds them.

Two ways in, one set of names:

- ``settings()``: the whole model (pydantic-settings), imported on the first call;
- ``lean_settings()``: the few fields the webhook function reads (and the table name, which every
  function reads), parsed here with the model's names, defaults and bounds, so that the webhook's
  cold start imports neither pydantic-settings nor pydantic (issue 13: most of its import time).
  ``tests/unit/test_settings.py`` holds both views to the same answers for the same environment.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, fields
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cardops.kernel.config.model import Settings as Settings

#: SPEC §4: a re-payment document larger than this is refused (``payments.domain.repayment`` agrees)
REPAYMENT_MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


class SettingsError(ValueError):
    """A variable of ``LeanSettings`` is missing or out of its bounds."""


@dataclass(frozen=True)
class LeanSettings:
    """The webhook function's subset of ``Settings``; the model takes its defaults from here."""

    table_name: str
    events_queue_url: str = ""
    webhook_secret_id: str = ""
    raw_event_ttl_days: int = 90
    max_webhook_bytes: int = 256 * 1024
    #: SPEC §1: a Stripe signature whose timestamp is further than this from now is refused
    stripe_tolerance_seconds: int = 300
    secret_max_age_seconds: int = 300


#: each field of ``LeanSettings``: the stack's name, and the least value of an integer
LEAN_VARIABLES: dict[str, tuple[str, int | None]] = {
    "table_name": ("TABLE_NAME", None),
    "events_queue_url": ("EVENTS_QUEUE_URL", None),
    "webhook_secret_id": ("WEBHOOK_SECRET_ID", None),
    "raw_event_ttl_days": ("RAW_EVENT_TTL_DAYS", 1),
    "max_webhook_bytes": ("MAX_WEBHOOK_BYTES", 1),
    "stripe_tolerance_seconds": ("STRIPE_TOLERANCE_SECONDS", 1),
    "secret_max_age_seconds": ("SECRET_MAX_AGE_SECONDS", 0),
}


@lru_cache(maxsize=1)
def settings() -> Settings:
    from cardops.kernel.config.model import Settings

    return Settings()


@lru_cache(maxsize=1)
def lean_settings() -> LeanSettings:
    values: dict[str, Any] = {}
    for field in fields(LeanSettings):
        name, least = LEAN_VARIABLES[field.name]
        raw = os.environ.get(name)
        if raw is None:
            continue  # the default (a missing required field is refused below)
        if least is None:
            values[field.name] = raw
            continue
        try:
            number = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be an integer") from None
        if number < least:
            raise SettingsError(f"{name} must be at least {least}")
        values[field.name] = number
    if "table_name" not in values:
        raise SettingsError("TABLE_NAME is not set")
    return LeanSettings(**values)


def reset_settings() -> None:
    """Forget the cached settings (tests and the sandbox change the environment)."""
    settings.cache_clear()
    lean_settings.cache_clear()


def __getattr__(name: str) -> Any:
    """``Settings`` and anything else the model module defines, imported when first asked for."""
    if name.startswith("__"):
        raise AttributeError(name)
    model: ModuleType = importlib.import_module("cardops.kernel.config.model")
    try:
        return getattr(model, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
