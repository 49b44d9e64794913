"""Shared fixtures for the feed tests: the employee master of events/feeds and its matcher."""

from __future__ import annotations

import pytest
from cardops.domain.feeds.employees import parse_employees_csv
from cardops.domain.feeds.matching import TenantMatcher
from cardops.domain.feeds.models import Employee
from feed_helpers import EVENTS, VALID_CORPORATE_NUMBER


@pytest.fixture(scope="session")
def employees() -> list[Employee]:
    with (EVENTS / "employees.csv").open("rb") as stream:
        parsed = list(parse_employees_csv(stream))
    assert all(isinstance(item, Employee) for item in parsed)
    return [item for item in parsed if isinstance(item, Employee)]


@pytest.fixture(scope="session")
def matcher(employees: list[Employee]) -> TenantMatcher:
    return TenantMatcher(VALID_CORPORATE_NUMBER, employees)
