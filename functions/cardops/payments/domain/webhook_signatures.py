"""Webhook authentication for each provider (SPEC §1), on the raw body, before any parsing.

Every comparison is constant-time. Each verifier accepts a list of secrets so that a secret can be
rotated without dropping webhooks: the old and the new one are both accepted for a window. A JSON
event is named by its ``id`` (``json_event_id``), still without a payment model: the webhook
function imports this module and no pydantic (issue 13).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cardops.kernel import safe_json


class SignatureError(Exception):
    """The request is not from the provider, or is too old: answer 401."""


class MalformedWebhook(Exception):
    """The body or a required header cannot be read: answer 400."""


class WebhookNotConfigured(Exception):
    """No verification secret is configured for this provider (a fresh stack): refuse, tell operators."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"{provider} webhook secret not configured")
        self.provider = provider


def verify_payjp_token(header_token: str | None, tokens: Sequence[str]) -> None:
    """PAY.JP sends a fixed token in ``X-Payjp-Webhook-Token``; it authenticates the sender only."""
    if not header_token:
        raise SignatureError("missing X-Payjp-Webhook-Token")
    presented = header_token.encode()
    # evaluate every candidate so that timing does not reveal which secret matched
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented, token.encode())
    if not matched:
        raise SignatureError("PAY.JP webhook token does not match")


def parse_stripe_signature_header(header: str) -> tuple[int, list[str]]:
    """``t=…,v1=…[,v1=…][,v0=…]`` → (timestamp, every v1 signature)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isdigit() or len(value) > 12:
                raise SignatureError("Stripe-Signature timestamp is not an integer")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("Stripe-Signature has no timestamp")
    if not signatures:
        raise SignatureError("Stripe-Signature has no v1 signature")
    return timestamp, signatures


def verify_stripe_signature(
    raw_body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_seconds: int = 300,
) -> int:
    """HMAC-SHA256 over ``"{t}.{raw body}"``; any ``v1`` may match; |now − t| ≤ tolerance.

    Returns the verified timestamp.
    """
    if not header:
        raise SignatureError("missing Stripe-Signature")
    timestamp, signatures = parse_stripe_signature_header(header)
    signed = str(timestamp).encode() + b"." + raw_body
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate.encode(errors="replace"))
    if not matched:
        raise SignatureError("no Stripe v1 signature matches")
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("Stripe-Signature timestamp outside the tolerance")
    return timestamp


def json_event_id(raw_body: bytes) -> str:
    """The ``id`` of a JSON event with a ``type`` (PAY.JP's and Stripe's shape)."""
    try:
        payload = safe_json.loads(raw_body)
    except safe_json.UnsafeJson as exc:
        raise MalformedWebhook(f"body refused: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedWebhook("body is not JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedWebhook("body is not a JSON object")
    event_id, event_type = payload.get("id"), payload.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        raise MalformedWebhook("event has no id")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedWebhook("event has no type")
    return event_id
