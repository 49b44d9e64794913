"""The ledger routes hand each body's own fields to their use case by name (``routes._on_ledger``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from cardops.kernel import clock
from cardops.ledger import routes
from cardops.ledger.domain.ledger import Channel
from cardops.ledger.domain.payouts import OffsetMethod
from cardops.ledger.use_cases import LedgerService


@pytest.mark.parametrize(
    ("body", "action"),
    [
        (routes.AdjustmentBody, LedgerService.adjust),
        (routes.PayoutBody, LedgerService.request_payout),
        (routes.SettlementBody, LedgerService.settle),
    ],
)
def test_every_field_a_body_adds_is_a_keyword_of_its_use_case(
    body: type[BaseModel], action: Callable[..., Any]
) -> None:
    keywords = {
        name
        for name, parameter in inspect.signature(action).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    added = set(body.model_fields) - set(routes._Body.model_fields)
    assert added and added <= keywords - {"now", "actor"}


def test_a_ledger_action_gets_the_body_ledger_its_fields_the_time_and_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: now)
    monkeypatch.setattr(routes, "router", SimpleNamespace(current_event="the request"))
    monkeypatch.setattr(routes, "caller", lambda event: f"finance, from {event}")
    seen: dict[str, Any] = {}

    def action(*args: Any, **kwargs: Any) -> str:
        seen.update(args=args, kwargs=kwargs)
        return "answer"

    body = routes.SettlementBody(settlement_id="s1", channel=Channel.EXTENDED, currency="usd")
    assert routes._on_ledger(action, "store-1", body) == "answer"
    assert seen["args"] == ("store-1", Channel.EXTENDED, "USD")
    assert seen["kwargs"] == {
        "settlement_id": "s1",
        "method": OffsetMethod.SAME_CHANNEL_SETTLEMENT,
        "source_channel": None,
        "now": now,
        "actor": "finance, from the request",
    }
