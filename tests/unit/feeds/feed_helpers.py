"""Helpers for the feed tests: the sample files in events/feeds, read as the sync would read them."""

from __future__ import annotations

from pathlib import Path

from cardops.domain.feeds.formats import format_for
from cardops.domain.feeds.models import RowError, StatementLine
from cardops.domain.feeds.reader import StatementReader

EVENTS = Path(__file__).resolve().parents[3] / "events" / "feeds"
#: A valid 法人番号 (the example from the National Tax Agency's documentation).
VALID_CORPORATE_NUMBER = "5835678256246"


def read_fixture(name: str, card_company: str) -> list[StatementLine | RowError]:
    with (EVENTS / name).open("rb") as stream:
        return list(StatementReader(stream, format_for(card_company), name))


def lines_of(items: list[StatementLine | RowError]) -> list[StatementLine]:
    return [item for item in items if isinstance(item, StatementLine)]
