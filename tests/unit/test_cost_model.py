"""The cost model adds what it says it adds (``make bench`` prints it; this checks the arithmetic)."""

from __future__ import annotations

import pytest

from tests.benchmarks import cost_model


def _results(captured: float, auto_refund: float) -> dict[str, dict[str, float]]:
    webhooks: dict[str, float] = {}
    for kind in cost_model.KINDS:
        webhooks |= {
            f"{kind}: dynamodb_reads_processor": 1.0,
            f"{kind}: dynamodb_writes_processor": 1.0,
            f"{kind}: dynamodb_transacts_processor": 1.0,
            f"{kind}: dynamodb_reads_listeners": 0.0,
            f"{kind}: dynamodb_writes_listeners": 0.0,
            f"{kind}: dynamodb_transacts_listeners": 0.0,
            f"{kind}: sqs_calls_listeners": 0.0,
        }
    workflows = {
        "sfn_transitions_per_payment_captured": captured,
        "sfn_transitions_per_payment_auto_refund": auto_refund,
    }
    return {"webhooks": webhooks, "workflows": workflows}


def test_step_functions_cost_is_the_workflow_benchmarks_transitions_at_their_price() -> None:
    share = cost_model.SHAPE["auto_refund_share"]
    figures = cost_model.per_million(_results(captured=2.0, auto_refund=10.0))
    transitions = (1 - share) * 2.0 + share * 10.0
    assert figures["_transitions_per_payment"] == pytest.approx(transitions)
    assert figures["step_functions"] == pytest.approx(transitions * 0.025 / 1000 * 1_000_000)


def test_the_total_counts_gsi_writes_once() -> None:
    figures = cost_model.per_million(_results(captured=3.0, auto_refund=17.0))
    services = {k: v for k, v in figures.items() if not k.startswith("_") and k != "total"}
    assert figures["total"] == pytest.approx(sum(services.values()) - services["dynamodb_gsi_writes"])
    assert 0 < services["dynamodb_gsi_writes"] < services["dynamodb_requests"]


def test_more_listener_writes_cost_more() -> None:
    base = _results(captured=3.0, auto_refund=17.0)
    more = _results(captured=3.0, auto_refund=17.0)
    more["webhooks"]["refund: dynamodb_transacts_listeners"] = 2.0
    assert (
        cost_model.per_million(more)["dynamodb_requests"] > cost_model.per_million(base)["dynamodb_requests"]
    )


def test_the_report_shows_each_goal_beside_its_figure() -> None:
    lines = cost_model.report(_results(captured=3.0, auto_refund=17.0))
    assert any(line.startswith("| total |") and line.endswith("| ≤ 100 |") for line in lines)
    assert any(line.startswith("| step_functions |") and line.endswith("| ≤ 40 |") for line in lines)
