"""The drafts the hooks build: however long the detail another slice hands in, the case can be opened."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cardops.support import hooks
from cardops.support.domain.cases import CaseDraft


@pytest.fixture
def drafts(monkeypatch: pytest.MonkeyPatch) -> list[CaseDraft]:
    built: list[CaseDraft] = []

    def build_only(build: Any, actor: str, payment: Any = None) -> str:
        built.append(build())
        return "case"

    monkeypatch.setattr(hooks, "_open", build_only)
    return built


def test_long_details_are_cut_to_what_a_case_summary_holds(drafts: list[CaseDraft]) -> None:
    hooks.refund_rejected(
        refund_id="rf_1", provider="payjp", payment_id="ch_1", store_id="s1", amount=1200, currency="JPY",
        detail="x" * 5000,
    )  # fmt: skip
    hooks.card_feed_diagnosed(
        tenant_id="t1", employee_code="E1", usage_date=date(2026, 5, 1), cause="name_mismatch", reason=None,
        message="y" * 5000,
    )  # fmt: skip
    assert [len(d.summary) for d in drafts] == [hooks.MAX_SUMMARY, hooks.MAX_SUMMARY]
    assert all(d.channel == "automatic" for d in drafts)
    assert [d.source for d in drafts] == ["refund-rejected:rf_1", "card-feed:t1:E1:name_mismatch"]
