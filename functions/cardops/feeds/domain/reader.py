"""Streaming reader of card statement files (SPEC §7): UTF-8 (with or without BOM) or CP932.

The file is never loaded whole: the encoding is decided from the BOM or the first chunk, then the
stream is cut into physical lines and each line is decoded and parsed on its own. Statement
formats never put line breaks inside fields, so a line is a row; that also means a broken row (an
unclosed quote, a wrong column count, a bad date) is reported as a ``RowError`` and the next line
reads normally. A missing, unknown or duplicated header is a file-level ``FeedFileError``.

A run that stopped part-way resumes with ``start_after_line`` (the last line it committed).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Protocol

from cardops.feeds.domain.formats import StatementFormat
from cardops.feeds.domain.models import RowError, StatementLine
from cardops.feeds.domain.normalize import normalize_code
from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT

CHUNK_SIZE = 64 * 1024
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_DIGITS = re.compile(r"[0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")


class ReadableBinary(Protocol):
    """Anything with ``read(size) -> bytes``: an open file, an S3 StreamingBody, a BytesIO."""

    def read(self, size: int = ..., /) -> bytes: ...


class FeedFileError(ValueError):
    """The whole file cannot be read: unknown encoding, or a missing/unknown header."""

    def __init__(self, source_file: str, reason: str) -> None:
        super().__init__(f"{source_file}: {reason}")
        self.source_file = source_file
        self.reason = reason


class DecodedLines:
    """Physical lines of a binary stream, decoded with an encoding detected from its head.

    ``encoding`` is known as soon as the object exists; iterating yields ``(line_number, text)``
    with 1-based line numbers. Undecodable bytes inside a line become U+FFFD, which the parsers
    report as a row error for that line only.
    """

    def __init__(
        self,
        stream: ReadableBinary,
        source_file: str,
        encodings: tuple[str, ...] = ("utf-8", "cp932"),
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self.source_file = source_file
        head = stream.read(chunk_size)
        self._at_eof = len(head) < chunk_size
        self.has_bom = head.startswith(codecs.BOM_UTF8)
        if self.has_bom:
            self.encoding = "utf-8"
            head = head[len(codecs.BOM_UTF8) :]
        elif head.startswith(_UTF16_BOMS):
            raise FeedFileError(source_file, "UTF-16 files are not supported; send UTF-8 or CP932")
        else:
            self.encoding = self._detect(head, encodings)
        self._head = head

    def _detect(self, head: bytes, encodings: tuple[str, ...]) -> str:
        """The first encoding that decodes the header line and the head cleanly.

        A broken row inside the head must not fail the whole file, so when no candidate decodes
        the head cleanly, the one with the fewest bad characters among those that decode the
        header line wins; the bad rows are then reported one by one.
        """
        # the first CHUNK_SIZE bytes decide, however large a read the caller asked for
        final = self._at_eof and len(head) <= CHUNK_SIZE
        head = head[:CHUNK_SIZE]
        header_line, newline, _ = head.partition(b"\n")
        header_complete = bool(newline) or final
        best: tuple[int, str] | None = None
        for encoding in encodings:
            try:
                codecs.getincrementaldecoder(encoding)().decode(header_line, final=header_complete)
            except UnicodeDecodeError:
                continue
            decoded = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=final)
            bad = decoded.count("\ufffd")
            if bad == 0:
                return encoding
            if best is None or bad < best[0]:
                best = (bad, encoding)
        if best is None:
            raise FeedFileError(self.source_file, f"not decodable as any of {', '.join(encodings)}")
        return best[1]

    def blocks(self) -> Iterator[bytes]:
        """The raw stream in blocks of whole lines: each ends with ``b"\\n"`` except a last one without.

        A block is what one read brought in (cut at its last line break), so a fast reader can
        decode and split many lines with one call each.
        """
        pending = self._head
        at_eof = self._at_eof
        while True:
            cut = pending.rfind(b"\n") + 1
            if cut:
                yield pending[:cut]
                pending = pending[cut:]
            if at_eof:
                break
            chunk = self._stream.read(self._chunk_size)
            at_eof = not chunk
            pending += chunk
        if pending:
            yield pending

    def decode(self, raw: bytes) -> str:
        """One physical line (without its break) as text; bad bytes become U+FFFD."""
        return raw.rstrip(b"\r").decode(self.encoding, errors="replace")

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return enumerate_lines(self.blocks(), self.decode, start=1)


def enumerate_lines(
    blocks: Iterable[bytes], decode: Callable[[bytes], str], *, start: int
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every physical line of whole-line blocks, numbered from ``start``."""
    number = start
    for block in blocks:
        *complete, last = block.split(b"\n")
        for raw in complete:
            yield number, decode(raw)
            number += 1
        if last:  # only a stream's final block lacks a line break
            yield number, decode(last)
            number += 1


def parse_csv_line(text: str, delimiter: str) -> list[str]:
    """One physical line as CSV cells (quotes honoured, no multi-line fields)."""
    if '"' not in text:
        return text.split(delimiter)
    return next(csv.reader((text,), delimiter=delimiter), [])


@lru_cache(maxsize=4096)
def _parse_date(value: str, date_format: str) -> date:
    return datetime.strptime(value, date_format).date()


def _ascii(value: str) -> str:
    return value.strip() if value.isascii() else unicodedata.normalize("NFKC", value).strip()


class _RowParser:
    """Turns one row's cells into a ``StatementLine``, collecting every problem of the row."""

    def __init__(self, fmt: StatementFormat, positions: Mapping[str, int], source_file: str) -> None:
        self.fmt = fmt
        self.positions = positions
        self.source_file = source_file
        self.problems: list[str] = []

    def text(self, cells: list[str], field: str) -> str:
        index = self.positions.get(field)
        return cells[index].strip() if index is not None else ""

    def date(self, cells: list[str], field: str, *, required: bool) -> date | None:
        value = _ascii(self.text(cells, field))
        if not value:
            if required:
                self.problems.append(f"{field} is empty")
            return None
        try:
            return _parse_date(value, self.fmt.date_format)
        except ValueError:
            self.problems.append(f"{field} {value!r} is not a date in {self.fmt.date_format}")
            return None

    def amount(self, cells: list[str]) -> int | None:
        value = _ascii(self.text(cells, "amount"))
        sign = 1
        for prefix in self.fmt.negative_prefixes:
            if value.startswith(prefix):
                sign, value = -1, value[len(prefix) :].strip()
                break
        if self.fmt.thousands_separator:
            value = value.replace(self.fmt.thousands_separator, "")
        if not _DIGITS.fullmatch(value):
            self.problems.append(f"amount {self.text(cells, 'amount')!r} is not a whole yen amount")
            return None
        # the length first: int() refuses a string of thousands of digits with a ValueError of its own
        significant = value.lstrip("0") or "0"
        if len(significant) > len(str(MAX_PLAUSIBLE_AMOUNT)) or int(significant) > MAX_PLAUSIBLE_AMOUNT:
            shown = value if len(value) <= 20 else f"{value[:20]}… ({len(value)} digits)"
            self.problems.append(f"amount {shown} is implausible (at most {MAX_PLAUSIBLE_AMOUNT})")
            return None
        return sign * int(significant)

    def local(self, cells: list[str]) -> tuple[Decimal | None, str | None]:
        raw_amount = _ascii(self.text(cells, "local_amount"))
        currency = _ascii(self.text(cells, "currency")).upper() or None
        amount: Decimal | None = None
        if raw_amount:
            cleaned = raw_amount
            if self.fmt.thousands_separator:
                cleaned = cleaned.replace(self.fmt.thousands_separator, "")
            for prefix in self.fmt.negative_prefixes:
                if cleaned.startswith(prefix):
                    cleaned = "-" + cleaned[len(prefix) :]
                    break
            try:
                amount = Decimal(cleaned)
            except InvalidOperation:
                self.problems.append(f"local amount {raw_amount!r} is not a number")
            else:
                if not amount.is_finite():
                    self.problems.append(f"local amount {raw_amount!r} is not a number")
                    amount = None
        if currency is not None and not _CURRENCY.fullmatch(currency):
            self.problems.append(f"currency {currency!r} is not an ISO 4217 code")
            currency = None
        if amount is not None and currency is None:
            self.problems.append("local amount without a currency")
        return amount, currency

    def last4(self, cells: list[str]) -> str | None:
        value = _ascii(self.text(cells, "last4"))
        if not value:
            return None
        tail = value[-4:]
        if not _DIGITS.fullmatch(tail) or len(tail) != 4:
            self.problems.append(f"card last4 {value!r} does not end in 4 digits")
            return None
        return tail

    def code(self, cells: list[str], field: str) -> str:
        return normalize_code(self.text(cells, field))


def line_identity(card_company: str, statement_no: str | None, identifying: tuple[object, ...]) -> str:
    """Card company + 明細番号, or a stable hash of the identifying fields when there is none.

    The hash leaves out the file name and line number, so the same line in two deliveries is the
    same line; two genuinely separate purchases differ at least in their approval number.
    """
    if statement_no:
        return f"{card_company}:{statement_no}"
    digest = hashlib.sha256("\x1f".join(str(part) for part in identifying).encode()).hexdigest()
    return f"{card_company}:sha256:{digest[:32]}"


class StatementReader:
    """Iterates a statement file as ``StatementLine`` or ``RowError``, one line at a time.

    Constructing it reads the head and the header, so file-level errors surface at once.
    ``last_line`` is the last physical line consumed: store it to resume with ``start_after_line``.
    """

    def __init__(
        self,
        stream: ReadableBinary,
        fmt: StatementFormat,
        source_file: str,
        *,
        start_after_line: int = 0,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.fmt = fmt
        self.source_file = source_file
        self.start_after_line = start_after_line
        self._lines = DecodedLines(stream, source_file, fmt.encodings, chunk_size)
        self.encoding = self._lines.encoding
        self._blocks = self._lines.blocks()
        #: the bytes after the header line in the first block; the lines from line 2 start here
        self._rest = b""
        self.positions = self._read_header()
        self.width = len(self.header)
        self.last_line = 1

    def _read_header(self) -> dict[str, int]:
        first = next(self._blocks, None)
        if first is None:
            raise FeedFileError(self.source_file, "empty file: no header")
        raw, _, self._rest = first.partition(b"\n")
        text = self._lines.decode(raw)
        self.header = [cell.strip().lstrip("\ufeff") for cell in parse_csv_line(text, self.fmt.delimiter)]
        named = [name for name in self.header if name]
        if "\ufffd" in text:
            raise FeedFileError(self.source_file, f"header is not valid {self.encoding}")
        if duplicates := sorted({name for name in named if named.count(name) > 1}):
            raise FeedFileError(self.source_file, f"duplicate header(s): {', '.join(duplicates)}")
        if unknown := [name for name in named if name not in self.fmt.columns]:
            raise FeedFileError(
                self.source_file, f"unknown header(s) for {self.fmt.card_company}: {', '.join(unknown)}"
            )
        if missing := [name for name in self.fmt.required_headers if name not in named]:
            raise FeedFileError(self.source_file, f"missing header(s): {', '.join(sorted(missing))}")
        return {self.fmt.columns[name]: index for index, name in enumerate(self.header) if name}

    def __iter__(self) -> Iterator[StatementLine | RowError]:
        skip_through = self.start_after_line
        for number, text in enumerate_lines(self.remaining_blocks(), self._lines.decode, start=2):
            self.last_line = number
            if number <= skip_through or not text.strip():
                continue
            yield self._parse(number, text)

    def remaining_blocks(self) -> Iterator[bytes]:
        """The raw whole-line blocks after the header (line 2 onwards); consumed once."""
        if self._rest:
            yield self._rest
        yield from self._blocks

    def _parse(self, number: int, text: str) -> StatementLine | RowError:
        if "\ufffd" in text:
            return RowError(
                source_file=self.source_file, line_number=number, reason=f"not valid {self.encoding}"
            )
        cells = parse_csv_line(text, self.fmt.delimiter)
        if len(cells) != self.width:
            return RowError(
                source_file=self.source_file,
                line_number=number,
                reason=f"expected {self.width} columns, found {len(cells)}",
            )
        row = _RowParser(self.fmt, self.positions, self.source_file)
        usage_date = row.date(cells, "usage_date", required=True)
        posting_date = row.date(cells, "posting_date", required=False)
        amount = row.amount(cells)
        local_amount, local_currency = row.local(cells)
        last4 = row.last4(cells)
        # Empty matching fields still make a line: matching turns them into error data an admin
        # can fix or assign by hand, instead of money silently vanishing as a row error.
        linkage_code = row.code(cells, "linkage_code")
        employee_code = row.code(cells, "employee_code") or None
        kana_name = row.text(cells, "kana_name") or None
        merchant = row.text(cells, "merchant")
        if not merchant:
            row.problems.append("merchant is empty")
        settlement_text = row.text(cells, "settlement")
        settlement = self.fmt.settlement_values.get(settlement_text)
        if settlement is None:
            row.problems.append(
                f"settlement {settlement_text!r} is not one of {sorted(self.fmt.settlement_values)}"
            )
        if row.problems or usage_date is None or amount is None or linkage_code is None or settlement is None:
            return RowError(source_file=self.source_file, line_number=number, reason="; ".join(row.problems))
        statement_no = row.text(cells, "statement_no") or None
        approval_no = row.text(cells, "approval_no") or None
        identifying = (usage_date, posting_date, linkage_code, last4, merchant, amount, approval_no)
        return StatementLine(
            card_company=self.fmt.card_company,
            line_id=line_identity(self.fmt.card_company, statement_no, identifying),
            statement_no=statement_no,
            usage_date=usage_date,
            posting_date=posting_date,
            linkage_code=linkage_code,
            employee_code=employee_code,
            kana_name=kana_name,
            last4=last4,
            merchant=merchant,
            amount=amount,
            local_amount=local_amount,
            local_currency=local_currency,
            approval_no=approval_no,
            settlement=settlement,
            source_file=self.source_file,
            line_number=number,
        )


def read_statement(
    stream: ReadableBinary, fmt: StatementFormat, source_file: str, *, start_after_line: int = 0
) -> Iterator[StatementLine | RowError]:
    """Every line of a statement file after ``start_after_line``; raises ``FeedFileError`` at once."""
    return iter(StatementReader(stream, fmt, source_file, start_after_line=start_after_line))
