"""The providers cardops knows, by name: one plugin each (``base.ProviderPlugin``), one line here.

Adding a provider is its folder (``providers/{name}/`` with a ``PLUGIN``) and its line in
``BUILT_IN``; the webhook route, the processor, refunds, re-payment and the CLI find it here. A
plugin is imported when its name is first asked for, so a function loads only the providers it
meets (the webhook function stays lean).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the webhook function imports this module: models are loaded where used
    from cardops.payments.domain.capture_deadline import AuthorizationHold
    from cardops.payments.domain.refunds import ProviderCapabilities
    from cardops.payments.providers.base import PaymentLookup, PaymentProvider, ProviderPlugin
    from cardops.payments.providers.recharge import Recharger

#: name → the module whose ``PLUGIN`` it is
BUILT_IN: Final = {
    "payjp": "cardops.payments.providers.payjp",
    "stripe": "cardops.payments.providers.stripe",
    "sbps": "cardops.payments.providers.sbps",
}
#: the provider of payments the sandbox and the tests write directly: no plugin, no API; finance may
#: take back its submitted refunds (there is no provider to have received them)
STAND_IN: Final = "sandbox"
#: plugins registered at run time (``registered``: a test's provider), over the built-in ones
_EXTRA: dict[str, ProviderPlugin] = {}


class UnsupportedProvider(Exception):
    """No API client for this provider (the sandbox provider has none)."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"provider {provider!r} has no API client for captures and cancels")
        self.provider = provider


def names() -> tuple[str, ...]:
    """Every provider with a plugin: the webhook routes, the event stores' partitions."""
    return (*BUILT_IN, *(name for name in _EXTRA if name not in BUILT_IN))


def name_pattern(*, stand_in: bool = False) -> str:
    """A regular expression of the providers' names (routes validate path parameters with it)."""
    return f"^({'|'.join((*names(), STAND_IN) if stand_in else names())})$"


def find(name: str) -> ProviderPlugin | None:
    """The plugin of ``name``; ``None`` for a name no provider has (``sandbox``, caller input)."""
    if name in _EXTRA:
        return _EXTRA[name]
    module = BUILT_IN.get(name)
    if module is None:
        return None
    plugin: ProviderPlugin = importlib.import_module(module).PLUGIN
    return plugin


def capabilities(name: str) -> ProviderCapabilities:
    """What the provider's API allows; the defaults (nothing) for a name without a plugin."""
    from cardops.payments.domain.refunds import ProviderCapabilities

    plugin = find(name)
    if plugin is not None:
        return plugin.capabilities
    return ProviderCapabilities(refund_reversal=name == STAND_IN)


def authorization_hold(name: str) -> AuthorizationHold:
    """How long the provider's authorizations hold when it does not say (the capture deadline)."""
    from cardops.payments.domain.capture_deadline import AuthorizationHold

    plugin = find(name)
    return plugin.authorization_hold if plugin is not None else AuthorizationHold.UNKNOWN


@contextmanager
def registered(plugin: ProviderPlugin) -> Iterator[ProviderPlugin]:
    """``plugin`` known by its name while the block runs (tests: a provider of their own)."""
    _EXTRA[plugin.name] = plugin
    reset()
    try:
        yield plugin
    finally:
        _EXTRA.pop(plugin.name, None)
        reset()


def api_key(key: str) -> str:
    """A provider API key; :class:`ProviderNotConfigured` (transient) while it is empty."""
    from cardops.kernel.secrets import SecretNotConfigured, provider_api_keys
    from cardops.payments.providers.base import ProviderNotConfigured

    try:
        return provider_api_keys().require(key)
    except SecretNotConfigured as exc:
        raise ProviderNotConfigured(f"provider API key {exc}") from exc


def recharger(name: str, payments: PaymentLookup | None = None) -> Recharger | None:
    """The adapter that can charge a saved card of ``name`` again; ``None`` where we have none (a
    plugin that needs ``payments`` answers ``None`` without them: SBPS)."""
    plugin = find(name)
    return plugin.recharger(payments) if plugin is not None else None


def reads_stored_payments(name: str) -> bool:
    """Whether the provider's client needs what cardops stored (SBPS: the tracking ids)."""
    plugin = find(name)
    return plugin is not None and plugin.reads_stored_payments


@cache
def provider_client(name: str, payments: PaymentLookup | None = None) -> PaymentProvider:
    """The API client of ``name``; ``payments`` (the use cases' view of stored payments) is what a
    client may need besides its keys: one that ``reads_stored_payments`` has no client without it."""
    plugin = find(name)
    if plugin is None or (payments is None and plugin.reads_stored_payments):
        raise UnsupportedProvider(name)
    return plugin.client(payments)


def reset() -> None:
    """Forget the clients (tests and the sandbox change settings and secrets)."""
    provider_client.cache_clear()
