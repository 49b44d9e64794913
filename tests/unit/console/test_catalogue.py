"""Japanese first, English switchable: every word the templates use is in the catalogue, in both."""

from __future__ import annotations

import re
from pathlib import Path

from cardops.console import i18n
from cardops.console.web import TEMPLATES

LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_0-9]+)["']\s*\)""")
#: keys built in templates from a prefix and a value (``t("badge." ~ row.badge)``)
PREFIXES = re.compile(r"""\bt\(\s*["']([a-z_]+\.)["']\s*~""")


def test_catalogue_is_complete() -> None:
    for key, entry in i18n.MESSAGES.items():
        assert set(entry) == set(i18n.LANGUAGES), key
        assert all(text.strip() for text in entry.values()), key


def test_every_key_a_template_names_is_in_the_catalogue() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for template in Path(TEMPLATES).glob("*.html"):
        text = template.read_text(encoding="utf-8")
        used |= set(LITERAL_KEY.findall(text))
        prefixes |= set(PREFIXES.findall(text))
    assert used, "the pattern finds the templates' keys"
    assert used - set(i18n.MESSAGES) == set()
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in i18n.MESSAGES), prefix


def test_the_language_is_the_query_then_the_cookie_then_japanese() -> None:
    assert i18n.language(None, None) == "ja"
    assert i18n.language("en", "ja") == "en"
    assert i18n.language(None, "en") == "en"
    assert i18n.language("fr", "xx") == "ja"


def test_every_enumerated_value_a_page_shows_has_words() -> None:
    from cardops.ledger.domain.ledger import AdjustmentReason, Channel
    from cardops.payments.domain.refunds import RefundReason

    for reason in RefundReason:
        assert f"reason.{reason.value}" in i18n.MESSAGES
    for adjustment in AdjustmentReason:
        assert f"adjust.reason_{adjustment.value}" in i18n.MESSAGES
    for channel in Channel:
        assert f"channel.{channel.value}" in i18n.MESSAGES
    for badge in ("overdue", "today", "soon", "ok"):
        assert f"badge.{badge}" in i18n.MESSAGES
