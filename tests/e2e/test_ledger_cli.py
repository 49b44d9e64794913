"""``cardops calendar payout-date`` (SPEC §8 contract 6): offline, ISO output, exit 2 on a bad date."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from cardops.cli.main import cli


@pytest.mark.parametrize(
    ("requested", "paid"),
    [
        ("2026-12-10", "2027-01-15"),
        ("2026-12-31", "2027-01-15"),
        ("2027-01-01", "2027-02-15"),
        ("2026-02-28", "2026-03-16"),  # 2026-03-15 is a Sunday
        ("2026-10-31", "2026-11-16"),  # 2026-11-15 is a Sunday
    ],
)
def test_payout_date(requested: str, paid: str) -> None:
    result = CliRunner().invoke(cli, ["calendar", "payout-date", requested])
    assert result.exit_code == 0, result.output
    assert result.output == f"{paid}\n"


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-02-30", "20261210", "2026-1-5", "tomorrow", ""])
def test_bad_date_exits_2_with_a_clear_message(bad: str) -> None:
    result = CliRunner().invoke(cli, ["calendar", "payout-date", bad])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_installed_console_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cardops.cli.main", "calendar", "payout-date", "2026-12-10"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "2027-01-15\n")
