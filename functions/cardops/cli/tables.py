"""How the CLI shows things to people: aligned tables, Tokyo times, status moves.

JSON output (``--json``) never goes through here: scripts get the API's ISO 8601 timestamps and raw
values. Tables are for reading, so times are Asia/Tokyo to the minute with the zone named, a
payment's first history entry reads ``— → authorized`` rather than ``None -> authorized``, and
columns are as wide as their content.
"""

from __future__ import annotations

import io
import json
import shutil
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import click

from cardops.kernel.calendar import TOKYO

NOTHING = "—"


def tokyo_time(value: str | datetime | None) -> str:
    """An ISO 8601 timestamp as ``2026-12-31 23:59 JST``; a missing value as ``—``.

    Deadlines are the last instant of a Tokyo day (23:59:59.999999 JST), so truncating to the
    minute shows the day's end, not the next day.
    """
    if value is None or value == "":
        return NOTHING
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {value!r}")
    return moment.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M JST")


def transition(from_status: str | None, to_status: str) -> str:
    """``— → authorized`` for a payment's first entry, ``authorized → captured`` after."""
    return f"{from_status or NOTHING} → {to_status}"


def cell(value: Any) -> str:
    """A value as a table shows it: ``—`` for nothing, ``yes``/``no`` for flags."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _width(text: str) -> int:
    """Display width: East Asian wide characters (kana, kanji) take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * max(width - _width(text), 0)
    return space + text if right else text + space


def render(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Sequence[int] = ()) -> str:
    """Rows under their headers, each column as wide as its widest cell; ``right`` aligns amounts."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([_width(h), *(_width(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(_pad(text, widths[i], i in right) for i, text in enumerate(line)).rstrip()
        for line in [list(headers), *cells]
    ]
    return "\n".join(lines)


def key_values(rows: Sequence[tuple[str, Any]]) -> str:
    """``key  value`` lines with the keys aligned (one record)."""
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{key.ljust(width)}  {cell(value)}" for key, value in rows)


def echo_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Sequence[int] = ()) -> None:
    click.echo(render(headers, rows, right=right))


def echo_key_values(rows: Sequence[tuple[str, Any]]) -> None:
    click.echo(key_values(rows))


def indented(text: str, by: int = 2) -> str:
    """``text`` under a heading: every line moved right by ``by`` spaces."""
    return "\n".join(" " * by + line for line in text.splitlines())


def _plain(value: Any) -> str:
    """A value inside a generic table: nested data as compact JSON, the rest as ``cell`` shows it."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return cell(value)


def rich_table(data: Any) -> str:
    """Any JSON value (a ``--query`` result) as a rich table: records as rows, an object as key/value
    rows, a list of scalars as one column, a scalar as itself."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if not isinstance(data, dict | list):
        return cell(data) + "\n"
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    if isinstance(data, dict):
        table.add_column("key")
        table.add_column("value", overflow="fold")
        for key, value in data.items():
            table.add_row(str(key), _plain(value))
    elif data and all(isinstance(row, dict) for row in data):
        columns = list(dict.fromkeys(key for row in data for key in row))
        for name in columns:
            table.add_column(name, overflow="fold")
        for row in data:
            table.add_row(*(_plain(row.get(name)) for name in columns))
    else:
        table.add_column("value", overflow="fold")
        for value in data:
            table.add_row(_plain(value))
    console = Console(
        file=io.StringIO(),
        width=shutil.get_terminal_size((160, 24)).columns,
        color_system=None,
        highlight=False,
        emoji=False,
        markup=False,
    )
    console.print(table)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return text
