"""Provider API clients as the use cases call them: the registry's, given what a client reads of
the stored payments (providers may not use the store themselves; the use cases hand it over)."""

from __future__ import annotations

from cardops.payments.domain.payments import Payment
from cardops.payments.providers import registry
from cardops.payments.providers.base import PaymentProvider
from cardops.payments.providers.recharge import Recharger


def stored_payment(provider: str, payment_id: str) -> Payment | None:
    from cardops.payments.store.payments import PaymentRepository

    return PaymentRepository().get(provider, payment_id)


def provider_client(name: str) -> PaymentProvider:
    """:class:`registry.UnsupportedProvider` when ``name`` has no API client."""
    if registry.reads_stored_payments(name):
        return registry.provider_client(name, stored_payment)
    return registry.provider_client(name)


def recharger(name: str) -> Recharger | None:
    """The provider's re-charge adapter, given the stored payments where its API reads them (SBPS)."""
    return registry.recharger(name, stored_payment)


def provider_or_none(name: str) -> PaymentProvider | None:
    """The client, or None for a provider without an API (its work stays with the operators)."""
    try:
        return provider_client(name)
    except registry.UnsupportedProvider:
        return None
