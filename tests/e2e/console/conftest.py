"""One sandbox and one chromium for every console browser test of a session, a new browser context
(its own cookies, so its own sign-in) per test.

Starting ``cardops local`` and chromium is most of a browser test's time, so they start once: the
modules here (the store, support and tenant flows; finance's) share them, and every test here runs
on one xdist worker (the ``console-browser`` group) so a parallel run starts them once too. The
sandbox is the console's own, not the shared e2e one, whose other tests add payments to the stores
the seeded users manage.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import payjp
import pytest

from tests.conftest import sandbox_of_its_own

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/console" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("console-browser"))


@pytest.fixture(scope="session")
def console_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The console's sandbox (its outputs), with the PAY.JP SDK pointed at its emulator."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    with sandbox_of_its_own(tmp_path_factory, "console-sandbox") as values:
        payjp.api_base = values["PayjpApiBaseUrl"]
        payjp.api_key = values["PayjpSecretKey"]
        yield values


@pytest.fixture
def outputs(console_sandbox: dict[str, Any]) -> dict[str, Any]:
    """The console sandbox's outputs (the name the browser modules' tests ask for)."""
    payjp.api_base = console_sandbox["PayjpApiBaseUrl"]  # another module may have pointed it elsewhere
    payjp.api_key = console_sandbox["PayjpSecretKey"]
    return console_sandbox


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh context per test: no cookie (so no sign-in) carries over from the test before."""
    context = browser.new_context(locale="ja-JP")
    yield context.new_page()
    context.close()
