"""Shared fixtures for the feed tests: the sample files in events/feeds, read as the sync reads them.

Helpers are fixtures (not an imported module) so the tests type-check without a tests package.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cardops.feeds.domain.employees import parse_employees_csv
from cardops.feeds.domain.formats import format_for
from cardops.feeds.domain.matching import TenantMatcher
from cardops.feeds.domain.models import Employee, RowError, StatementLine
from cardops.feeds.domain.reader import StatementReader

EVENTS = Path(__file__).resolve().parents[3] / "events" / "feeds"
#: A valid 法人番号 (the example from the National Tax Agency's documentation).
VALID_CORPORATE_NUMBER = "5835678256246"

ReadItems = Callable[[str, str], list[StatementLine | RowError]]
ReadLines = Callable[[str, str], list[StatementLine]]


def _read(name: str, card_company: str) -> list[StatementLine | RowError]:
    with (EVENTS / name).open("rb") as stream:
        return list(StatementReader(stream, format_for(card_company), name))


@pytest.fixture(scope="session")
def events_dir() -> Path:
    return EVENTS


@pytest.fixture(scope="session")
def corporate_number() -> str:
    return VALID_CORPORATE_NUMBER


@pytest.fixture(scope="session")
def read_items() -> ReadItems:
    """Every parsed line and row error of a sample file."""
    return _read


@pytest.fixture(scope="session")
def read_lines() -> ReadLines:
    """Only the statement lines of a sample file."""

    def lines(name: str, card_company: str) -> list[StatementLine]:
        return [item for item in _read(name, card_company) if isinstance(item, StatementLine)]

    return lines


@pytest.fixture(scope="session")
def employees() -> list[Employee]:
    with (EVENTS / "employees.csv").open("rb") as stream:
        parsed = list(parse_employees_csv(stream))
    assert all(isinstance(item, Employee) for item in parsed)
    return [item for item in parsed if isinstance(item, Employee)]


@pytest.fixture(scope="session")
def matcher(employees: list[Employee]) -> TenantMatcher:
    return TenantMatcher(VALID_CORPORATE_NUMBER, employees)
