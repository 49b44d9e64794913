"""Sample files with placeholders, filled in when a sample is used (``cardops invoke``, ``repayment start``).

Samples in ``events/`` stay readable and never go stale: a date that decides a deadline is written
relative to the target's business clock (the sandbox clock, which ``cardops sandbox advance`` moves),
and an id that must differ per run is generated. Placeholders:

| placeholder                 | becomes                                                       |
| --------------------------- | ------------------------------------------------------------- |
| ``{{today}}``, ``{{today+5d}}`` | the Asia/Tokyo date, ``YYYY-MM-DD``                       |
| ``{{now}}``, ``{{now-1d}}``     | the time, ISO 8601 in Asia/Tokyo (``…+09:00``), to the second |
| ``"{{epoch}}"``, ``"{{epoch-1h}}"`` | Unix seconds; written as a JSON string, it becomes a JSON number |
| ``{{unique}}``              | 12 hex digits, the same everywhere in one file, new each use  |
| ``{{NAME}}``                | the value given with ``--set NAME=VALUE``                      |

Offsets are ``+``/``-`` a number of ``d``, ``h`` or ``m``; ``{{today+5d|%Y%m%d}}`` formats with
strftime (``%-m``/``%-d``: month/day without a leading zero, as in ``3月5日``). A placeholder that
nothing fills is an error naming it, never sent as is.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from cardops.cli.client import AdminClient, call
from cardops.kernel.calendar import TOKYO

_NAME = r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
_REST = r"(?:\s*(?P<sign>[+-])\s*(?P<n>\d+)\s*(?P<unit>[dhm]))?\s*(?:\|(?P<fmt>[^}]*))?\}\}"
PLACEHOLDER = re.compile(r"\{\{\s*" + _NAME + _REST)
#: ``"{{epoch}}"`` (also with the quotes escaped, inside a JSON string) becomes a bare number
QUOTED_EPOCH = re.compile(r"(?P<q>\\*\")\{\{\s*(?P<name>epoch)" + _REST + r"(?P=q)")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class SampleError(ValueError):
    """A sample that cannot be filled in: an unknown placeholder or a bad offset or format."""


def _moment(match: re.Match[str], now: datetime) -> datetime:
    if not match.group("sign"):
        return now
    delta = timedelta(**{_UNITS[match.group("unit")]: int(match.group("n"))})
    return now + delta if match.group("sign") == "+" else now - delta


def _strftime(moment: datetime, fmt: str) -> str:
    # %-m / %-d are not portable strftime: fill them in first
    fmt = fmt.replace("%-m", str(moment.month)).replace("%-d", str(moment.day))
    return moment.strftime(fmt)


def render(text: str, *, now: datetime, values: Mapping[str, str] | None = None) -> str:
    """``text`` with every placeholder filled in, relative to ``now`` (an aware timestamp)."""
    if now.tzinfo is None:
        raise SampleError("now must be timezone-aware")
    values = values or {}
    unique = secrets.token_hex(6)
    missing: list[str] = []

    def epoch(match: re.Match[str]) -> str:
        return str(int(_moment(match, now).timestamp()))

    def fill(match: re.Match[str]) -> str:
        name, fmt = match.group("name"), match.group("fmt")
        if name in values:
            return values[name]
        moment = _moment(match, now).astimezone(TOKYO)
        if name == "today":
            return _strftime(moment, fmt) if fmt else moment.date().isoformat()
        if name == "now":
            return _strftime(moment, fmt) if fmt else moment.replace(microsecond=0).isoformat()
        if name == "epoch":
            return epoch(match)
        if name == "unique":
            return unique
        missing.append(name)
        return match.group(0)

    filled = PLACEHOLDER.sub(fill, QUOTED_EPOCH.sub(epoch, text))
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise SampleError(f"no value for {names}: pass --set NAME=VALUE for each ({names})")
    return filled


def render_file(path: Path, *, now: datetime, values: Mapping[str, str] | None = None) -> bytes:
    """The file filled in; files without placeholders (binary ones too) come back unchanged."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if "{{" not in text:
        return raw
    return render(text, now=now, values=values).encode("utf-8")


def parse_values(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--set NAME=VALUE`` options as a mapping."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SampleError(f"--set takes NAME=VALUE, got {pair!r}")
        values[name] = value
    return values


def business_now(client: AdminClient) -> datetime:
    """The target's business time: the sandbox clock (which ``sandbox advance`` moves), else now."""
    if client.is_sandbox:
        return datetime.fromisoformat(str(call(client, "GET", "/admin/sandbox/clock")["now"]))
    return datetime.now(UTC)


set_option = click.option(
    "--set",
    "values",
    multiple=True,
    metavar="NAME=VALUE",
    help="fill {{NAME}} placeholders of the sample (repeatable)",
)


def load_sample(path: Path, client: AdminClient, values: tuple[str, ...]) -> bytes:
    """``path`` filled in against the target's clock; a placeholder left unfilled is a usage error."""
    try:
        return render_file(path, now=business_now(client), values=parse_values(values))
    except SampleError as exc:
        raise click.UsageError(f"{path}: {exc}") from exc
