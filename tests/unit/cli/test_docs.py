"""The project's own docs stand alone in a clone: no path outside the repository, no dangling link."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DOCS = [ROOT / "README.md", ROOT / "events" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_docs_name_no_path_outside_the_repository() -> None:
    for doc in DOCS:
        assert "../shared" not in doc.read_text(encoding="utf-8"), doc


def test_every_relative_link_resolves() -> None:
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), (doc, target)


def test_the_rules_page_covers_each_area_a_newcomer_needs() -> None:
    rules = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for area in ("Webhooks", "lifecycle", "Capture deadline", "Re-payment", "Refunds", "ledger", "feeds"):
        assert area in rules, area
    assert "docs/rules.md" in (ROOT / "README.md").read_text(encoding="utf-8")
