from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardops.feeds.domain.formats import GENERIC, JCB_CORPORATE, SAISON, STANDARD_COLUMNS
from cardops.feeds.domain.models import RowError, StatementLine
from cardops.feeds.domain.reader import FeedFileError, StatementReader, read_statement

EVENTS = Path(__file__).resolve().parents[3] / "events" / "feeds"
HEADER = ",".join(STANDARD_COLUMNS)
ReadItems = Callable[[str, str], list[StatementLine | RowError]]
ReadLines = Callable[[str, str], list[StatementLine]]


def lines_of(items: list[StatementLine | RowError]) -> list[StatementLine]:
    return [item for item in items if isinstance(item, StatementLine)]


def test_cp932_file_with_half_width_kana() -> None:
    raw = (EVENTS / "saison_cp932_halfwidth.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    with (EVENTS / "saison_cp932_halfwidth.csv").open("rb") as stream:
        reader = StatementReader(stream, SAISON, "saison.csv")
        items = list(reader)
    assert reader.encoding == "cp932"
    lines = lines_of(items)
    assert len(lines) == len(items) == 4
    first = lines[0]
    assert first.line_id == "saison:S-0001"
    assert first.kana_name == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert first.merchant == "ｽﾀｰﾊﾞｯｸｽ 新宿店"
    assert first.usage_date == date(2026, 4, 28)
    assert first.posting_date == date(2026, 4, 30)
    assert first.amount == 1200
    assert first.employee_code is None
    assert first.settlement == "corporate"
    assert lines[3].settlement == "personal"
    assert [line.line_number for line in lines] == [2, 3, 4, 5]


def test_utf8_bom_file() -> None:
    with (EVENTS / "generic_utf8_bom.csv").open("rb") as stream:
        reader = StatementReader(stream, GENERIC, "bom.csv")
        lines = lines_of(list(reader))
    assert reader.encoding == "utf-8"
    assert (EVENTS / "generic_utf8_bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(lines) == 5
    foreign = lines[0]
    assert (foreign.amount, foreign.local_amount, foreign.local_currency) == (5500, Decimal("37.50"), "USD")
    assert lines[4].kana_name == "たなか じろう"


def test_broken_rows_are_reported_and_the_rest_reads(read_items: ReadItems) -> None:
    items = read_items("generic_broken_row.csv", "generic")
    errors = [item for item in items if isinstance(item, RowError)]
    assert [e.line_number for e in errors] == [3, 4, 5]
    assert "usage_date" in errors[0].reason
    assert "columns" in errors[1].reason
    assert "amount" in errors[2].reason
    assert [line.statement_no for line in lines_of(items)] == ["G-0101", "G-0105"]


def test_third_format_codes_separators_and_hash_identity(read_lines: ReadLines) -> None:
    lines = read_lines("jcb_corporate_2026-05-07.csv", "jcb_corporate")
    assert [line.amount for line in lines] == [1380, 48200, -1380, 2100]
    assert lines[0].usage_date == date(2026, 4, 28)
    assert lines[1].local_amount == Decimal("312.00")
    assert [line.settlement for line in lines] == ["corporate", "corporate", "corporate", "personal"]
    assert all(
        line.statement_no is None and line.line_id.startswith("jcb_corporate:sha256:") for line in lines
    )
    assert len({line.line_id for line in lines}) == 4
    again = read_lines("jcb_corporate_2026-05-07.csv", "jcb_corporate")
    assert [line.line_id for line in again] == [line.line_id for line in lines]  # stable across reads


def test_two_files_share_a_duplicate_line(read_lines: ReadLines) -> None:
    first = read_lines("generic_2026-05-07.csv", "generic")
    second = read_lines("generic_2026-05-08.csv", "generic")
    shared = {line.line_id for line in first} & {line.line_id for line in second}
    assert shared == {"generic:G-0201"}


def _csv(*rows: str, encoding: str = "utf-8", header: str = HEADER) -> io.BytesIO:
    return io.BytesIO(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))


ROW = "X-1,2026/05/07,2026/05/08,LK0001,S0001,ヤマダ タロウ,1234,店,{amount},,,1,法人"


def test_missing_header_is_a_file_error() -> None:
    header = HEADER.replace(",決済区分", "")
    with pytest.raises(FeedFileError, match="missing header"):
        StatementReader(_csv(header=header), GENERIC, "f.csv")


def test_unknown_header_is_a_file_error() -> None:
    with pytest.raises(FeedFileError, match="unknown header"):
        StatementReader(_csv(header=HEADER + ",備考"), GENERIC, "f.csv")


def test_header_of_another_format_is_a_file_error() -> None:
    with pytest.raises(FeedFileError, match="unknown header"):
        StatementReader(_csv(), JCB_CORPORATE, "f.csv")


def test_empty_file_is_a_file_error() -> None:
    with pytest.raises(FeedFileError, match="empty"):
        StatementReader(io.BytesIO(b""), GENERIC, "f.csv")


def test_undecodable_file_is_a_file_error() -> None:
    with pytest.raises(FeedFileError, match="not decodable"):
        StatementReader(io.BytesIO(b"\x81\x7f\xff\xfe\xfd\n"), GENERIC, "f.csv")


def test_undecodable_cp932_row_is_a_row_error() -> None:
    good = ROW.format(amount=100).encode("cp932")
    stream = io.BytesIO(HEADER.encode("cp932") + b"\r\n" + good + b"\r\nX-9,\x81\x7f\r\n" + good + b"\r\n")
    reader = StatementReader(stream, GENERIC, "f.csv")
    items = list(reader)
    assert reader.encoding == "cp932"
    assert [type(item) for item in items] == [StatementLine, RowError, StatementLine]
    assert isinstance(items[1], RowError) and "cp932" in items[1].reason


def test_undecodable_row_is_a_row_error() -> None:
    stream = io.BytesIO(
        _csv(ROW.format(amount=100)).getvalue()
        + b"X-2,2026/05/07,,LK1,,\xff\xfe,,shop,1,,,,\xe6\xb3\x95\xe4\xba\xba\r\n"
    )
    items = list(StatementReader(stream, GENERIC, "f.csv"))
    assert isinstance(items[0], StatementLine)
    assert isinstance(items[1], RowError) and "utf-8" in items[1].reason


def test_refund_amount_is_negative() -> None:
    (line,) = read_statement(_csv(ROW.format(amount="-1200")), GENERIC, "f.csv")
    assert isinstance(line, StatementLine) and line.amount == -1200 and line.is_refund


def test_unknown_settlement_is_a_row_error() -> None:
    (item,) = read_statement(_csv(ROW.format(amount=1).replace("法人", "会社")), GENERIC, "f.csv")
    assert isinstance(item, RowError) and "settlement" in item.reason


def test_resume_after_a_line() -> None:
    rows = [ROW.format(amount=n).replace("X-1", f"X-{n}") for n in range(1, 6)]
    items = list(read_statement(_csv(*rows), GENERIC, "f.csv", start_after_line=3))
    assert [item.line_number for item in items] == [4, 5, 6]


def test_small_chunks_split_multibyte_characters_safely() -> None:
    data = (EVENTS / "saison_cp932_halfwidth.csv").read_bytes()
    whole = list(StatementReader(io.BytesIO(data), SAISON, "s.csv"))
    chunked = list(StatementReader(io.BytesIO(data), SAISON, "s.csv", chunk_size=7))
    assert chunked == whole


class _Generated(io.RawIOBase):
    """A statement of ``rows`` lines produced on demand, so the file never exists in memory."""

    def __init__(self, rows: int) -> None:
        self._chunks = self._produce(rows)
        self._buffer = b""
        self.bytes_read = 0

    @staticmethod
    def _produce(rows: int) -> Iterator[bytes]:
        yield (HEADER + "\r\n").encode("cp932")
        for n in range(rows):
            yield (ROW.format(amount=n).replace("X-1", f"X-{n}") + "\r\n").encode("cp932")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        self.bytes_read += len(data)
        return data


def test_the_reader_never_holds_more_than_two_chunks_ahead_of_the_line_it_yields() -> None:
    """Streaming, by structure: however long the file, the bytes read from the stream never run more
    than two read chunks past the end of the line being yielded, so memory cannot grow with file size.

    (The measured peak memory at 10k and 100k lines, and its ratio, is in ``make bench``.)
    """
    chunk = 4096
    rows = 3000
    source = _Generated(rows)
    line_ends: list[int] = []
    offset = 0
    for encoded in _Generated._produce(rows):
        offset += len(encoded)
        line_ends.append(offset)
    reader = StatementReader(source, GENERIC, "big.csv", chunk_size=chunk)
    count = 0
    for count, _ in enumerate(reader, start=1):
        # line_ends[0] is the header; data line ``count`` ends at line_ends[count]
        assert source.bytes_read <= line_ends[count] + 2 * chunk, count
    assert count == rows
    assert source.bytes_read == line_ends[-1]


_KANA = (
    "アイウエオカガキクケコサシスセソタチツッテトナニヌネノ"
    "ハバパヒフヘホマミムメモヤャユュヨョラリルレロワン ｰｱｶﾞﾊﾟ"
)
_MERCHANT = _KANA + "ABCxyz0123456789 店駅ホテル東京-&."
row_values = st.fixed_dictionaries(
    {
        "no": st.text(alphabet="ABC-0123456789", min_size=1, max_size=10),
        "usage": st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
        "linkage": st.text(alphabet="ABCLK0123456789", min_size=1, max_size=10),
        "kana": st.text(alphabet=_KANA, min_size=1, max_size=12).filter(str.strip),
        "merchant": st.text(alphabet=_MERCHANT, min_size=1, max_size=20).filter(str.strip),
        "amount": st.integers(min_value=-10_000_000, max_value=10_000_000),
        "personal": st.booleans(),
    }
)


@settings(max_examples=40, deadline=None)
@given(st.lists(row_values, min_size=1, max_size=8), st.sampled_from(["utf-8", "cp932", "utf-8-sig"]))
def test_written_rows_read_back_unchanged(rows: list[dict[str, Any]], encoding: str) -> None:
    text = [HEADER] + [
        f"{r['no']},{r['usage']:%Y/%m/%d},,{r['linkage']},S1,{r['kana']},1234,{r['merchant']},{r['amount']},,,,"
        + ("個人" if r["personal"] else "法人")
        for r in rows
    ]
    items = list(read_statement(io.BytesIO("\r\n".join(text).encode(encoding)), GENERIC, "p.csv"))
    assert len(items) == len(rows)
    for item, r in zip(items, rows, strict=True):
        assert isinstance(item, StatementLine)
        assert (item.statement_no, item.usage_date, item.linkage_code) == (r["no"], r["usage"], r["linkage"])
        assert (item.kana_name, item.merchant) == (r["kana"].strip(), r["merchant"].strip())
        assert item.amount == r["amount"]
        assert item.settlement == ("personal" if r["personal"] else "corporate")
