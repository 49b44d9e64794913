from __future__ import annotations

from collections.abc import Callable
from datetime import date

from cardops.feeds.domain.dedupe import LineDeduplicator
from cardops.feeds.domain.models import StatementLine
from cardops.feeds.domain.reader import line_identity

ReadLines = Callable[[str, str], list[StatementLine]]


def test_line_shared_by_two_files_is_taken_once(read_lines: ReadLines) -> None:
    both = read_lines("generic_2026-05-07.csv", "generic") + read_lines("generic_2026-05-08.csv", "generic")
    dedupe = LineDeduplicator()
    new = list(dedupe.new_lines(both))
    assert [line.line_id for line in new] == ["generic:G-0200", "generic:G-0201", "generic:G-0202"]
    assert dedupe.duplicates == 1


def test_rerun_over_stored_lines_adds_nothing(read_lines: ReadLines) -> None:
    lines = read_lines("jcb_corporate_2026-05-07.csv", "jcb_corporate")
    first = LineDeduplicator()
    stored = [line.line_id for line in first.new_lines(lines)]
    rerun = LineDeduplicator(stored)
    assert list(rerun.new_lines(read_lines("jcb_corporate_2026-05-07.csv", "jcb_corporate"))) == []
    assert rerun.duplicates == len(lines) == 4


def test_identity_includes_the_card_company_and_ignores_where_the_line_was_read() -> None:
    fields = (date(2026, 5, 7), None, "LK1", "1234", "店", 1000, "A1")
    assert line_identity("saison", "G-0200", fields) != line_identity("generic", "G-0200", fields)
    assert line_identity("generic", None, fields) == line_identity("generic", None, fields)
    assert line_identity("generic", None, fields) != line_identity("generic", None, (*fields[:-1], "A2"))
