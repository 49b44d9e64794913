"""Reading and matching a statement file at CSV speed (issue 13): the strict path's results, cheaper.

``StatementReader`` builds and validates a ``StatementLine`` for every row and ``TenantMatcher``
matches each one: about 9 µs a line, ten times what ``csv.reader`` needs to decode the same file.
``FastStatementReader.blocks()`` reads, checks and matches a block (one read of the stream) at a time
with no per-row Python and no per-row pydantic:

- the block is decoded with one call, and one regex per file (built from the format and the file's
  header) checks every cell of every line is in the *plain* form whose strict parse cannot fail:
  ASCII dates and digits, codes of printable ASCII, text without quotes or surrounding whitespace,
  a 明細番号, no foreign amount, a known settlement word. It captures only what matching needs: the
  明細番号 (the line identity), the dates (parsed once per distinct string, so 2026/02/30 is caught)
  and the span of cells from the linkage code to the kana name;
- matching is looked up per card company + linkage code + employee code + kana name (``MatchMemo``
  behind a cache of the span text), so it runs once per card, not once per line;
- every other row (a quote, a foreign amount, a blank, an impossible date, an undecodable byte, no
  明細番号) is an *odd* row: the strict parser reads it, so its result is the strict result.

``MatchedBlock.items()`` gives what the sync stores: each row as the strict parser reads it (its
``StatementLine`` is built then, once per stored line, since storing serializes it anyway) with the
fast path's outcome. A test compares both paths row by row; ``line_ids`` lets it check the fast
identities too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from operator import itemgetter
from typing import Final

from cardops.feeds.domain.formats import StatementFormat
from cardops.feeds.domain.matching import MatchMemo, Outcome
from cardops.feeds.domain.models import RowError, StatementLine
from cardops.feeds.domain.normalize import normalize_code
from cardops.feeds.domain.reader import ReadableBinary, StatementReader, _parse_date, enumerate_lines
from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT

_DATE_DIRECTIVES: Final = {"%Y": "[0-9]{4}", "%m": "[0-9]{2}", "%d": "[0-9]{2}"}
_KEY_FIELDS: Final = ("linkage_code", "employee_code", "kana_name")
#: the most digits an amount can have and never exceed ``MAX_PLAUSIBLE_AMOUNT``
_PLAIN_DIGITS: Final = len(str(MAX_PLAUSIBLE_AMOUNT)) - 1
_BAD: Final = date.min  # an impossible date in a plain-looking row: the strict parser reports it
_MATCHED: Final = itemgetter(1)
_OUTCOME: Final = itemgetter(0)


class _Dates(dict[str, date | None]):
    """Date cells parsed once per distinct string (ASCII digits by the regex, so no NFKC is needed).

    A string may hold both dates with the delimiter between (one capture when the columns are
    adjacent: a capture less per row); it is bad when either is.
    """

    def __init__(self, date_format: str, delimiter: str) -> None:
        super().__init__({"": None})
        self.date_format = date_format
        self.delimiter = delimiter
        self.bad: set[str] = set()

    def __missing__(self, value: str) -> date | None:
        try:
            days = [_parse_date(cell, self.date_format) for cell in value.split(self.delimiter) if cell]
            parsed: date | None = days[0] if days else None
        except ValueError:
            parsed = _BAD
            self.bad.add(value)
        self[value] = parsed
        return parsed


class _Cards(dict[str, tuple[Outcome, bool]]):
    """The text from the linkage code cell to the kana name cell → the memoized outcome.

    Cells between them (when a format puts another column there) only make the key finer.
    """

    def __init__(
        self, card_company: str, memo: MatchMemo, delimiter: str, picks: tuple[int | None, ...]
    ) -> None:
        super().__init__()
        self.card_company = card_company
        self.memo = memo
        self.delimiter = delimiter
        self.picks = picks

    def __missing__(self, span: str) -> tuple[Outcome, bool]:
        cells = span.split(self.delimiter)
        linkage, employee, kana = ("" if pick is None else cells[pick].strip() for pick in self.picks)
        outcome = self.memo[(self.card_company, normalize_code(linkage), normalize_code(employee), kana)]
        if len(self) >= self.memo.limit:
            self.clear()
        entry = self[span] = (outcome, outcome.employee is not None)
        return entry


def _date_pattern(date_format: str) -> str | None:
    """The ASCII-digit regex of a ``strptime`` format, or None when it uses other directives."""
    pattern = []
    for part in re.split(r"(%.)", date_format):
        if part.startswith("%"):
            if part not in _DATE_DIRECTIVES:
                return None
            pattern.append(_DATE_DIRECTIVES[part])
        elif any(char.isdigit() or char.isspace() for char in part):
            return None
        else:
            pattern.append(re.escape(part))
    return "".join(pattern)


class PlainRows:
    """The regex of one file's plain rows, and where its five captures sit."""

    def __init__(self, pattern: re.Pattern[str], key_picks: tuple[int | None, ...]) -> None:
        self.pattern = pattern
        self.key_picks = key_picks

    @classmethod
    def of(cls, fmt: StatementFormat, header: list[str]) -> PlainRows | None:
        """None when the format cannot have plain rows: every row then takes the strict path."""
        delimiter = fmt.delimiter
        dates = _date_pattern(fmt.date_format)
        separator = fmt.thousands_separator
        words = sorted(fmt.settlement_values, key=len, reverse=True)
        if (
            delimiter in '"\r\n-' or delimiter.isalnum() or delimiter.isspace()
            or dates is None or delimiter in fmt.date_format
            or (separator is not None and (separator.isdigit() or separator == "-"))
            or any(not w or w != w.strip() or any(c in w for c in f'"\r\n{delimiter}') for w in words)
        ):  # fmt: skip
            return None
        d = re.escape(delimiter)
        cell, edge = f'[^"\\r\\n{d}]', f'[^\\s"{d}]'
        # possessive: a cell never gives back what it took (its class excludes the delimiter), so a
        # line is matched without backtracking; the lookbehind says the last character is no space
        text = f"{edge}{cell}*+(?<={edge})"
        # the merchant is neither captured nor an identity: the strict parse strips it (no lookbehind)
        stripped = f"{edge}{cell}*+"
        code = (
            "["
            + "".join(re.escape(chr(c)) for c in range(0x21, 0x7F) if chr(c) not in ('"', delimiter))
            + "]*+"
        )
        plain = {
            "statement_no": f"({text})",
            "usage_date": f"({dates})",
            "posting_date": f"((?:{dates})?)",
            "linkage_code": code,
            "employee_code": code,
            "kana_name": f"{cell}*+",  # the memo strips it, as the strict parser does
            "last4": "(?:[0-9]{4})?",
            "merchant": stripped,
            # up to 8 digits is always plausible; a longer amount is read (and maybe refused) strictly
            "amount": ("-?" if "-" in fmt.negative_prefixes else "") + f"[0-9]{{1,{_PLAIN_DIGITS}}}+",
            "local_amount": "",
            "currency": "",
            "approval_no": f"{cell}*+",  # only stored, and stored lines are parsed strictly
            "settlement": "(?:" + "|".join(re.escape(w) for w in words) + ")",
        }
        fields = [fmt.columns.get(name) if name else None for name in header]
        if "statement_no" not in fields:
            return None  # lines are identified by a hash of their fields: the strict parser does it
        keys = [i for i, field in enumerate(fields) if field in _KEY_FIELDS]
        span = (min(keys), max(keys)) if keys else None
        cells = [plain[field] if field else f"{cell}*+" for field in fields]
        order: dict[str, int] = {}
        for i, field in enumerate(fields):
            if field in ("statement_no", "usage_date", "posting_date"):
                order[field] = len(order)
            if span and i == span[0]:
                order["key"] = len(order)
        if span:
            cells[span[0]] = "(" + cells[span[0]]
            cells[span[1]] = cells[span[1]] + ")"
        usage = fields.index("usage_date") if "usage_date" in fields else None
        joined = (
            usage is not None
            and fields[usage + 1 : usage + 2] == ["posting_date"]
            and (span is None or usage + 1 < span[0] or usage > span[1])
        )
        if usage is not None and joined:
            # adjacent dates: one capture of both (``_Dates`` splits it); the posting group goes
            cells[usage : usage + 2] = [f"({dates}{d}(?:{dates})?)"]
            del order["posting_date"]
            order = {name: i for i, name in enumerate(order)}
        captures = ("statement_no", "usage_date", "posting_date", "key")
        body = d.join(cells)
        # groups: the captures (an absent one is an always-empty group; the posting date may live in
        # the usage date's), then odd rows' text
        extra = "".join(
            "()" for name in captures if name not in order and not (joined and name == "posting_date")
        )
        # a CR before the line break is no part of the row (the strict reader strips it too)
        pattern = re.compile(f"^(?:{body}{extra}\\r?|(.*))$", re.MULTILINE)
        for name in captures:
            if name not in order and not (joined and name == "posting_date"):
                order[name] = len(order)
        if joined:
            order["posting_date"] = order["usage_date"]
        picks = tuple(
            None if span is None or field not in fields else fields.index(field) - span[0]
            for field in _KEY_FIELDS
        )
        rows = cls(pattern, picks)
        rows.groups = tuple(order[name] for name in captures)
        return rows

    groups: tuple[int, ...] = ()


Odd = list[tuple[int, StatementLine | RowError, Outcome | None]]


class _Lines:
    """A block's text cut into lines only when someone needs them (odd rows, stored lines)."""

    __slots__ = ("_lines", "count", "offset", "text")

    def __init__(self, text: str, count: int, offset: int) -> None:
        self.text, self.count, self.offset = text, count, offset
        self._lines: list[str] | None = None

    def all(self) -> list[str]:
        """The lines after the skipped ones (each may still end with its CR and LF)."""
        if self._lines is None:
            self._lines = self.text.split("\n", self.count - 1)[self.offset :] if self.count else []
        return self._lines


class MatchedBlock:
    """Consecutive lines of one file, read and matched: plain rows as columns, odd rows parsed.

    ``lines`` counts the rows read (plain and odd; blank lines are no rows), ``matched`` those
    matched to an employee and ``plain`` those the regex took, all without per-row Python.
    """

    __slots__ = (
        "_lines",
        "_odd",
        "_outcomes",
        "_reader",
        "last_line",
        "line_ids",
        "lines",
        "matched",
        "numbers",
        "plain",
    )

    def __init__(
        self,
        reader: FastStatementReader,
        numbers: Sequence[int],
        line_ids: list[str],
        cards: list[tuple[Outcome, bool]],
        odd: Odd,
        lines: _Lines,
        first: int,
        last_line: int,
    ) -> None:
        self._reader = reader
        self.numbers = numbers
        self.line_ids = line_ids
        self._outcomes = cards
        self._odd = odd
        self._lines = (lines, first)
        self.last_line = last_line
        self.plain = len(numbers)
        self.lines = len(numbers) + len(odd)
        self.matched = sum(map(_MATCHED, cards)) + sum(1 for _, _, o in odd if o is not None and o.matched)

    def items(self) -> Iterator[tuple[int, StatementLine | RowError, Outcome | None]]:
        """``(line number, line or row error, outcome)`` in file order; the outcome is None for errors."""
        odd = iter(self._odd)
        next_odd = next(odd, None)
        lines, first = self._lines[0].all(), self._lines[1]
        parse = self._reader._parse
        for number, card in zip(self.numbers, self._outcomes, strict=True):
            while next_odd is not None and next_odd[0] < number:
                yield next_odd
                next_odd = next(odd, None)
            yield number, parse(number, lines[number - first].rstrip("\r\n")), _OUTCOME(card)
        if next_odd is not None:
            yield next_odd
            yield from odd


class FastStatementReader(StatementReader):
    """A ``StatementReader`` that reads in matched blocks (``blocks()``); see the module docstring."""

    def __init__(
        self,
        stream: ReadableBinary,
        fmt: StatementFormat,
        source_file: str,
        memo: MatchMemo,
        *,
        start_after_line: int = 0,
        chunk_size: int = 1024 * 1024,
    ) -> None:
        super().__init__(stream, fmt, source_file, start_after_line=start_after_line, chunk_size=chunk_size)
        self.memo = memo
        self._prefix = f"{fmt.card_company}:"
        self._plain = PlainRows.of(fmt, self.header)
        picks = self._plain.key_picks if self._plain else (None, None, None)
        self._cards = _Cards(fmt.card_company, memo, fmt.delimiter, picks)
        self._dates = _Dates(fmt.date_format, fmt.delimiter)

    def blocks(self) -> Iterator[MatchedBlock]:
        """Every line after ``start_after_line``, a block (one read of the stream) at a time."""
        number = 2  # the line number of the block's first line
        for raw in self.remaining_blocks():
            count = raw.count(b"\n") + (not raw.endswith(b"\n"))
            first, number = number, number + count
            self.last_line = number - 1
            if number - 1 > self.start_after_line:
                yield self._block(raw, first, count)

    def _block(self, raw: bytes, first: int, count: int) -> MatchedBlock:
        last = first + count - 1
        plain = self._plain
        if plain is None:
            return self._strict_block(raw, first, last)
        text = raw.decode(self.encoding, errors="replace")
        end = len(text) - text.endswith("\n")
        rows = plain.pattern.findall(text, 0, end)
        if len(rows) != count:  # one match per line by construction; never trusted blindly
            return self._strict_block(raw, first, last)
        offset = 0  # rows skipped by a resumed read
        if (skip := self.start_after_line - first + 1) > 0:
            rows, first, offset = rows[skip:], first + skip, skip
        no_at, usage_at, posting_at, key_at = plain.groups
        usage_cells = list(map(itemgetter(usage_at), rows))  # a map per capture: faster than zip(*rows)
        # both dates in one capture when the columns are adjacent: nothing more to check then
        date_columns = (
            [usage_cells]
            if posting_at == usage_at
            else [usage_cells, list(map(itemgetter(posting_at), rows))]
        )
        dates = self._dates
        for cell in set().union(*date_columns) - dates.keys():
            dates[cell]
        odd_rows: set[int] = set()
        if "" in usage_cells:  # not a plain row (a quote, a CR, a foreign amount...) or a blank line
            odd_rows.update(i for i, cell in enumerate(usage_cells) if not cell)
        bad = dates.bad
        if bad and not all(map(bad.isdisjoint, date_columns)):
            odd_rows.update(
                i for i, cells in enumerate(zip(*date_columns, strict=True)) if not bad.isdisjoint(cells)
            )
        lines = _Lines(text, count, offset)
        if "\ufffd" in text:
            odd_rows.update(i for i, line in enumerate(lines.all()) if "\ufffd" in line)
        numbers: Sequence[int] = range(first, first + len(rows))
        if odd_rows:
            rows = [row for i, row in enumerate(rows) if i not in odd_rows]
            numbers = [number for i, number in enumerate(numbers) if i not in odd_rows]
        line_ids = list(map(self._prefix.__add__, map(itemgetter(no_at), rows)))
        cards = list(map(self._cards.__getitem__, map(itemgetter(key_at), rows)))
        odd: Odd = []
        for i in sorted(odd_rows):
            self._odd_row(odd, first + i, lines.all()[i])
        return MatchedBlock(self, numbers, line_ids, cards, odd, lines, first, last)

    def _odd_row(self, odd: Odd, number: int, text: str) -> None:
        """A row the strict parser reads (a blank line is no row at all, as there)."""
        text = text.rstrip("\r\n")
        if not text.strip():
            return
        item = self._parse(number, text)
        odd.append((number, item, self.memo.outcome(item) if isinstance(item, StatementLine) else None))

    def _strict_block(self, raw: bytes, first: int, last: int) -> MatchedBlock:
        """A block only the strict parser can take (no plain form, decoder and lines disagree)."""
        odd: Odd = []
        for number, text in enumerate_lines((raw,), self._lines.decode, start=first):
            if number > self.start_after_line:
                self._odd_row(odd, number, text)
        return MatchedBlock(self, [], [], [], odd, _Lines("", 0, 0), first, last)


def read_matched(
    stream: ReadableBinary, fmt: StatementFormat, source_file: str, memo: MatchMemo
) -> Iterator[tuple[int, StatementLine | RowError, Outcome | None]]:
    """Every row of a file with its outcome, through the fast path."""
    for block in FastStatementReader(stream, fmt, source_file, memo).blocks():
        yield from block.items()


__all__ = ["FastStatementReader", "MatchedBlock", "PlainRows", "read_matched"]
