"""How a raw webhook body is stored: the one place that compresses it and reads it back.

A stored event is written twice (stored, outcome), each write billed per KB of the whole item.
zlib alone takes a 2 KB Stripe event to about 800 bytes, which with the processing record left the
item just over 1 KB: two write units per write. A provider's events repeat the same
field names in every body, so the body is compressed with a preset dictionary of those names
(``KEYS_V1``): about 570 bytes, and the item stays under 1 KB (issue 13 item 4).

``body_encoding`` says how a body was stored, and every encoding ever written stays readable:
none (stored before compression: the bytes as received), ``zlib`` (no dictionary) and ``zlib-k1``
(``KEYS_V1``). The dictionary is frozen: a body compressed with it can only be read with exactly
these bytes, so a better dictionary is a new encoding beside this one, never an edit of it.
"""

from __future__ import annotations

import zlib

#: ``body_encoding`` of a body compressed without a dictionary (written before ``zlib-k1``)
ZLIB = "zlib"
#: ``body_encoding`` of a body compressed with the ``KEYS_V1`` dictionary (what is written now)
ZLIB_K1 = "zlib-k1"

#: the field names of the providers' webhook bodies (Stripe's event, PaymentIntent, Charge, Refund
#: and Dispute objects; PAY.JP's charge events; SBPS's result notice form), rarest first: deflate
#: reaches the end of its dictionary with the shortest distances. Names only, no values. FROZEN
_JSON_KEYS_V1 = (
    "address",
    "address_line1_check",
    "address_postal_code_check",
    "amount_authorized",
    "amount_captured",
    "application_fee",
    "billing_details",
    "calculated_statement_descriptor",
    "capture_before",
    "checks",
    "cvc_check",
    "destination_details",
    "disputed",
    "email",
    "extended_authorization",
    "failure_reason",
    "fraud_details",
    "funding",
    "incremental_authorization",
    "mandate",
    "maximum_amount_capturable",
    "multicapture",
    "network",
    "network_status",
    "network_token",
    "outcome",
    "overcapture",
    "payment_method_details",
    "phone",
    "receipt_number",
    "review",
    "risk_level",
    "risk_score",
    "seller_message",
    "source_transfer_reversal",
    "three_d_secure",
    "transfer_reversal",
    "used",
    "wallet",
    "balance_transaction",
    "balance_transactions",
    "due_by",
    "evidence_details",
    "has_evidence",
    "is_charge_refundable",
    "past_due",
    "amount_capturable",
    "amount_details",
    "amount_received",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "charge",
    "client_secret",
    "confirmation_method",
    "invoice",
    "last_payment_error",
    "latest_charge",
    "mcc",
    "next_action",
    "on_behalf_of",
    "payment_method_configuration_details",
    "payment_method_options",
    "payment_method_types",
    "processing",
    "request_three_d_secure",
    "setup_future_usage",
    "shipping",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "tip",
    "transfer_data",
    "transfer_group",
    "application",
    "application_fee_amount",
    "captured_at",
    "expired_at",
    "fee_rate",
    "payment_intent",
    "payment_method",
    "platform_consumption",
    "reason",
    "receipt_email",
    "refund_reason",
    "subscription",
    "tenant",
    "term_id",
    "three_d_secure_status",
    "amount_refunded",
    "brand",
    "captured",
    "country",
    "exp_month",
    "exp_year",
    "failure_code",
    "failure_message",
    "fingerprint",
    "last4",
    "name",
    "paid",
    "refunded",
    "accepted_at",
    "api_version",
    "idempotency_key",
    "previous_attributes",
    "request",
    "reservation_id",
    "store_id",
    "visit_date",
    "customer",
    "description",
    "card",
    "amount",
    "currency",
    "data",
    "pending_webhooks",
    "status",
    "metadata",
    "type",
    "livemode",
    "created",
    "id",
    "object",
)
_FORM_KEYS_V1 = (
    "order_id",
    "res_tracking_id",
    "res_result",
    "res_err_code",
    "free1",
    "free2",
    "free3",
    "res_status",
    "res_date",
)
KEYS_V1 = (
    "&".join(f"{name}=" for name in _FORM_KEYS_V1)
    + "null,false,true,"
    + ",".join(f'"{name}":' for name in _JSON_KEYS_V1)
).encode()


def encode(body: bytes) -> tuple[bytes, str]:
    """The body as stored and its ``body_encoding``."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, zdict=KEYS_V1)
    return packer.compress(body) + packer.flush(), ZLIB_K1


def decode(stored: bytes, encoding: str | None) -> bytes:
    """The body as received, from any encoding ever written (``None``: stored as received)."""
    if encoding is None:
        return stored
    if encoding == ZLIB:
        return zlib.decompress(stored)
    if encoding == ZLIB_K1:
        unpacker = zlib.decompressobj(15, zdict=KEYS_V1)
        return unpacker.decompress(stored) + unpacker.flush()
    raise ValueError(f"unknown body encoding {encoding!r}")
