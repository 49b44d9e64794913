"""The raw webhook body's storage encodings (``payments.store.raw_event_codec``)."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from cardops.payments.store import raw_event_codec
from tests.conftest import ROOT

BODIES = [
    *(p.read_bytes() for p in sorted((ROOT / "events/webhooks").glob("*/*"))),
    b"",
    '{"name":"山田 花子","x":"\\u0000"}'.encode(),
    bytes(range(256)) * 8,  # not JSON at all: any bytes a provider may send
]


@pytest.mark.parametrize("body", BODIES)
def test_every_body_reads_back_byte_for_byte(body: bytes) -> None:
    stored, encoding = raw_event_codec.encode(body)
    assert encoding == raw_event_codec.ZLIB_K1
    assert raw_event_codec.decode(stored, encoding) == body


def test_the_dictionary_is_frozen() -> None:
    """Bodies already stored as ``zlib-k1`` read only with exactly these bytes: a better dictionary
    is a new encoding beside this one."""
    digest = hashlib.sha256(raw_event_codec.KEYS_V1).hexdigest()
    assert digest == "6516509c82a17145ba5beffa79080de98b7259358444c11e573ef79f70e31570"


def test_encodings_written_before_still_read() -> None:
    body = b'{"id":"evt_1","object":"event"}'
    assert raw_event_codec.decode(body, None) == body
    assert raw_event_codec.decode(zlib.compress(body, 9), "zlib") == body


def test_an_unknown_encoding_is_refused_not_misread() -> None:
    with pytest.raises(ValueError, match="unknown body encoding"):
        raw_event_codec.decode(b"x", "brotli")


def test_the_field_names_shrink_a_provider_event() -> None:
    """The dictionary earns its keep on a Stripe event (measured on a sample with its own ids)."""
    body = (ROOT / "events/webhooks/stripe/charge.refunded.json").read_bytes()
    assert len(raw_event_codec.encode(body)[0]) < 0.9 * len(zlib.compress(body, 9))
