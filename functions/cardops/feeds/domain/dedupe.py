"""Re-running a sync is harmless: lines are deduplicated by card company + line identity (SPEC §7).

``StatementLine.line_id`` already is that identity (card company + 明細番号, or a hash of the
identifying fields). The store enforces it with a conditional write; this is the same rule for a
run's own batch, so a line delivered in two files, or twice in one, is counted once and reported
in the summary's ``duplicates``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from cardops.feeds.domain.models import StatementLine


class LineDeduplicator:
    """Passes each line identity once; remembers the identities already stored and seen."""

    def __init__(self, known_line_ids: Iterable[str] = ()) -> None:
        self._seen: set[str] = set(known_line_ids)
        self.duplicates = 0

    def is_new(self, line: StatementLine) -> bool:
        if line.line_id in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(line.line_id)
        return True

    def new_lines(self, lines: Iterable[StatementLine]) -> Iterator[StatementLine]:
        """The lines not seen before, in order; ``duplicates`` counts the others."""
        return (line for line in lines if self.is_new(line))
