"""A workflow's ``Retry`` interval in the sandbox follows the sandbox clock like its waits
(``cardops.sandbox.clock_wait``): ``cardops sandbox advance`` ends a provider fault's backoff."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from cardops.kernel import clock
from cardops.sandbox import clock_wait


@pytest.fixture
def installed() -> Iterator[None]:
    clock_wait.install()
    yield
    clock_wait.uninstall()
    clock.reset()


def test_advancing_the_clock_ends_moto_s_retry_interval(installed: None) -> None:
    """moto's retrier sleeps on its module's ``time``: an hour's interval ends once the clock moves."""
    sleeper = threading.Thread(target=retrier_decl.time.sleep, args=(3600,), daemon=True)
    sleeper.start()
    clock.advance(timedelta(hours=2))
    sleeper.join(timeout=30)
    assert not sleeper.is_alive()


def test_without_an_advance_the_interval_is_real_time(installed: None) -> None:
    sleeper = threading.Thread(target=retrier_decl.time.sleep, args=(3600,), daemon=True)
    sleeper.start()
    sleeper.join(timeout=0.5)
    assert sleeper.is_alive()  # still waiting its hour: nothing moved the clock
    clock.advance(timedelta(hours=1))
    sleeper.join(timeout=30)
    assert not sleeper.is_alive()
    assert retrier_decl.time.monotonic() > 0  # the rest of the time module is the standard one
