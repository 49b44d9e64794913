"""The fast path gives the strict path's results, row by row (issue 13 item 1).

Strict: ``StatementReader`` (a validated ``StatementLine`` or ``RowError`` per row) and
``TenantMatcher.match`` per line. Fast: ``FastStatementReader`` blocks with ``MatchMemo``. Compared
on every shipped sample, a generated 100k-line CP932 file, hand-written hostile rows and generated
rows; each comparison also checks the fast path really took the plain rows (not everything strict).
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardops.feeds.domain.fast_path import FastStatementReader
from cardops.feeds.domain.formats import FORMATS, GENERIC, SAISON, StatementFormat
from cardops.feeds.domain.matching import MatchMemo, MatchResult, TenantMatcher
from cardops.feeds.domain.models import Employee, RowError, StatementLine
from cardops.feeds.domain.reader import StatementReader
from tests.benchmarks.bench_feeds import CORPORATE_NUMBER, write_statement
from tests.benchmarks.bench_feeds import employees as bench_employees

Row = tuple[int, StatementLine | RowError, MatchResult | None]
HEADER = ",".join(GENERIC.columns)


def strict_rows(content: bytes, fmt: StatementFormat, name: str, matcher: TenantMatcher) -> list[Row]:
    rows: list[Row] = []
    for item in StatementReader(BytesIO(content), fmt, name):
        outcome = matcher.match(item) if isinstance(item, StatementLine) else None
        rows.append((item.line_number, item, outcome))
    return rows


def fast_rows(
    content: bytes, fmt: StatementFormat, name: str, matcher: TenantMatcher, chunk_size: int = 1 << 20
) -> tuple[list[Row], int]:
    """The rows and how many of them took the plain (regex + columns) path."""
    reader = FastStatementReader(BytesIO(content), fmt, name, MatchMemo(matcher), chunk_size=chunk_size)
    rows: list[Row] = []
    plain = read = 0
    for block in reader.blocks():
        plain += block.plain
        read += block.lines
        identities = dict(zip(block.numbers, block.line_ids, strict=True))
        for number, item, outcome in block.items():
            rows.append((number, item, outcome.result(item.line_id) if outcome is not None else None))
            # a plain row's identity comes from the fast path's own column
            assert identities.get(number, item.line_id if isinstance(item, StatementLine) else None) == (
                item.line_id if isinstance(item, StatementLine) else None
            )
    assert read == len(rows)
    return rows, plain


def assert_same(
    content: bytes, fmt: StatementFormat, matcher: TenantMatcher, chunk_size: int = 1 << 20
) -> int:
    expected = strict_rows(content, fmt, "f.csv", matcher)
    actual, plain = fast_rows(content, fmt, "f.csv", matcher, chunk_size)
    assert len(actual) == len(expected)
    for fast, strict in zip(actual, expected, strict=True):
        assert fast == strict, f"line {strict[0]} differs"
    return plain


@pytest.mark.parametrize(
    ("name", "card_company"),
    [
        ("generic_2026-05-07.csv", "generic"),
        ("generic_2026-05-08.csv", "generic"),
        ("generic_broken_row.csv", "generic"),
        ("generic_utf8_bom.csv", "generic"),
        ("jcb_corporate_2026-05-07.csv", "jcb_corporate"),
        ("saison_cp932_halfwidth.csv", "saison"),
    ],
)
def test_samples_read_and_match_the_same(
    events_dir: Path, matcher: TenantMatcher, name: str, card_company: str
) -> None:
    content = (events_dir / name).read_bytes()
    plain = assert_same(content, FORMATS[card_company], matcher)
    # the JCB export quotes every amount ("1,380"): quoted rows are odd rows, read strictly
    assert (plain > 0) == (card_company != "jcb_corporate")
    # block boundaries anywhere (a 7-byte read cuts lines and CP932 characters apart)
    assert_same(content, FORMATS[card_company], matcher, chunk_size=7)


def test_a_100k_line_cp932_file_reads_and_matches_the_same(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    write_statement(path, 100_000)
    matcher = TenantMatcher(CORPORATE_NUMBER, bench_employees())
    plain = assert_same(path.read_bytes(), GENERIC, matcher)
    assert plain == 100_000


HOSTILE = [
    'H1,2026/04/01,2026/04/02,LK0001,S0001,ヤマダ タロウ,1234,"ヨドバシ, 梅田",3300,,,1,法人',
    "H2,2026/04/01,,LK0001,S0001,ﾔﾏﾀﾞ ﾀﾛｳ,1234, 前後に空白 ,3300,,,2,法人",
    "H3,２０２６/04/01,,LK0001,S0001,ヤマダ タロウ,1234,全角日付,3300,,,3,法人",
    "H4,2026/02/30,,LK0001,S0001,ヤマダ タロウ,1234,ない日,3300,,,4,法人",
    "H5,2026/04/01,2026/13/01,LK0001,S0001,ヤマダ タロウ,1234,ない売上日,3300,,,5,法人",
    "H6,2026/04/01,,,S0001,ヤマダ タロウ,1234,連携コードなし,3300,,,6,法人",
    "H7,2026/04/01,,LK0002,S0002,がっこう はなこ,2345,ひらがな,450,,,7,法人",
    "H8,2026/04/01,,LK0002,S0002,ガッコウ ハナコ,2345,小さいカナ,450,,,8,法人",
    "H9,2026/04/01,,LK0003,S0003,セイサン,3456,ローマ字,100,,,9,法人",
    "H10,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,外貨,3300,20.50,USD,10,法人",
    "H11,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,通貨不正,3300,20.50,usdollar,11,法人",
    "H12,2026/04/01,,LK0001,S0001,ヤマダ タロウ,****1234,伏字カード,3300,,,12,法人",
    "H13,2026/04/01,,LK0001,S0001,ヤマダ タロウ,12a4,不正カード,3300,,,13,法人",
    "H14,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,列不足,3300,,,14",
    "",
    "   ",
    "H15,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,決済区分に空白,3300,,, 15 , 法人 ",
    "H16,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,決済区分不明,3300,,,16,会社",
    "H17,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,,3300,,,17,法人",
    ",2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,明細番号なし,3300,,,18,法人",
    ",2026/04/01,,LK0001,S0001,ヤマダ タロウ,,明細番号なし,3300,,,,個人",
    "H1,2026/04/01,2026/04/02,LK0001,S0001,ヤマダ タロウ,1234,同じ明細番号,3300,,,1,法人",
    "H19,2026/04/01,,ＬＫ０００１,Ｓ０００１,ヤマダ　タロウ,1234,全角コード,３３００,,,19,法人",
    "H20,2026/04/01,,LK 0001,S0001,ヤマダ タロウ,1234,コードに空白,-3300,,,20,法人",
    "H21,2026/04/01,,lk0001,s0001,ヤマダ タロウ,1234,小文字,- 3300,,,21,法人",
    "H22,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,\tタブ\t,00012,,,22,法人",
    "H23,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,マイナスゼロ,-0,,,23,個人",
    "H24,2026/04/01,,LK9999,S0001,ヤマダ タロウ,1234,知らないコード,1,,,24,法人",
    "H25,2026/04/01,,LK0001,S9999,ヤマダ タロウ,1234,社員コード違い,1,,,25,法人",
    "H26,2026/04/01,,LK0001,,,1234,社員コードもカナもなし,1,,,26,法人",
    'H27,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,"引用""符",1,,,27,法人',
    'H28,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,"閉じない,1,,,28,法人',
    "H29,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,カンマ,1,000,,,29,法人",
    "H30,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,改行\r,1,,,30,法人",
    "H31,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,NUL\x00文字,1,,,31,法人",
    "H32,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,99999999999999999999999,1,,,32,法人",
    "H33,2026/4/1,,LK0001,S0001,ヤマダ タロウ,1234,一桁の月日,1,,,33,法人",
    "H34,2026/04/01,,LK0001,S0001,ヤマダ タロウ,1234,大きい額,99999999999999999999999,,,34,法人",
]


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_hostile_rows_read_and_match_the_same(
    matcher: TenantMatcher, employees: list[Employee], encoding: str
) -> None:
    body = "\r\n".join([HEADER, *HOSTILE]) + "\r\n\r\r\n"
    content = body.encode(encoding, errors="replace")
    plain = assert_same(content, GENERIC, matcher)
    assert 0 < plain < len(HOSTILE)
    assert_same(content, GENERIC, matcher, chunk_size=11)
    # undecodable bytes in the middle of a CP932 file: those lines are row errors, the rest reads
    broken = content.replace(b"H9,", b"H9\x81\xff,")
    assert_same(broken, GENERIC, matcher)
    # a tenant whose corporate number blocks linking: every line carries that reason
    assert_same(
        content, SAISON.model_copy(update={"card_company": "generic"}), TenantMatcher(None, employees)
    )


def test_a_resumed_read_skips_the_same_lines(events_dir: Path, matcher: TenantMatcher) -> None:
    content = (events_dir / "generic_2026-05-08.csv").read_bytes()
    for start_after in (0, 1, 2, 3, 5):
        strict = [
            i.line_number
            for i in StatementReader(BytesIO(content), GENERIC, "f", start_after_line=start_after)
        ]
        reader = FastStatementReader(
            BytesIO(content), GENERIC, "f", MatchMemo(matcher), start_after_line=start_after
        )
        fast = [number for block in reader.blocks() for number, _, _ in block.items()]
        assert fast == strict


def test_a_format_with_digit_thousands_separators_reads_everything_strictly(matcher: TenantMatcher) -> None:
    odd_format = GENERIC.model_copy(update={"thousands_separator": "0"})
    content = "\n".join([HEADER, *HOSTILE]).encode()
    expected = strict_rows(content, odd_format, "f.csv", matcher)
    actual, plain = fast_rows(content, odd_format, "f.csv", matcher)
    assert (actual, plain) == (expected, 0)


def test_the_memo_starts_over_at_its_limit(matcher: TenantMatcher) -> None:
    memo = MatchMemo(matcher, limit=2)
    for code in ("LK0001", "LK0002", "LK0003", "LK0004"):
        assert memo[("generic", code, "", "")].error is not None
    assert len(memo) <= 2


_CELLS = {
    "statement_no": st.sampled_from(["", "N1", "N2", " N3", "N 4", '"N5"']),
    "usage_date": st.sampled_from(
        ["2026/04/01", "2026/02/29", "2024/02/29", "", "2026/4/1", "20260401", "x"]
    ),
    "posting_date": st.sampled_from(["", "2026/04/02", "2026/04/31", " 2026/04/02"]),
    "linkage_code": st.sampled_from(["LK0001", "LK0002", "LK0003", "", "lk0001", "ＬＫ0001", "LK 0002"]),
    "employee_code": st.sampled_from(["S0001", "S0002", "", "S9999", "Ｓ0003"]),
    "kana_name": st.sampled_from(
        ["ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ", "ガッコウ ハナコ", "ガツコウ ハナコ", "セイサン", "seisan", ""]
    ),
    "last4": st.sampled_from(["", "1234", "123", "**1234", "１２３４"]),
    "merchant": st.sampled_from(["店", " 店 ", "", "A,B", "ｾﾌﾞﾝ"]),
    "amount": st.sampled_from(["100", "-100", "0", "", "1,000", "△100", "１００", "-"]),
    "local_amount": st.sampled_from(["", "", "1.5", "x"]),
    "currency": st.sampled_from(["", "", "USD", "us"]),
    "approval_no": st.sampled_from(["", "A1", " A1"]),
    "settlement": st.sampled_from(["法人", "個人", "", "法人 "]),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries(_CELLS), min_size=1, max_size=30))
def test_generated_rows_read_and_match_the_same(matcher: TenantMatcher, rows: list[dict[str, str]]) -> None:
    order = list(GENERIC.columns.values())
    lines = [",".join(row[field] for field in order) for row in rows]
    assert_same(("\n".join([HEADER, *lines]) + "\n").encode("cp932"), GENERIC, matcher)
