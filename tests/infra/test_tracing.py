"""X-Ray sampled on purpose (issue 13, cost): per-payment functions traced only when their upstream
sampled, the scheduled ones on their own, and the stack's rules for where traces start."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constructs.kernel import ACTIVE_TRACING
from tests.benchmarks import bench_deployed, cost_model

pytestmark = pytest.mark.infra

#: one a payment or more, or a request's or a workflow's step: traced inside their upstream's trace
PASS_THROUGH = {
    "webhook",
    "processor",
    "changes",
    "janitor_worker",
    "capture_deadline",
    "admin",
    "console",
    "repayment_validate",
    "repayment_eligibility",
    "repayment_await_decision",
    "repayment_charge",
    "repayment_finish",
    "support_case",
}


def _of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def _modes(template: dict[str, Any]) -> dict[str, str]:
    return {
        p["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"].removeprefix("cardops-"): p["TracingConfig"][
            "Mode"
        ]
        for p in _of(template, "AWS::Lambda::Function").values()
        if "cardops.handlers" in p.get("Handler", "")
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_per_payment_functions_pass_the_upstream_decision_through(
    templates: dict[str, dict[str, Any]], stage: str
) -> None:
    modes = _modes(templates[stage])
    assert {key for key, mode in modes.items() if mode == "PassThrough"} == PASS_THROUGH
    # the scheduled functions sample their own runs (a few a day)
    active = {key for key, mode in modes.items() if mode == "Active"}
    assert active == set(ACTIVE_TRACING)
    assert active == {"janitor", "reconcile", "feed_sync", "support_report"}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_stage_and_each_state_machine_have_the_stacks_rule(
    templates: dict[str, dict[str, Any]], stage: str
) -> None:
    template = templates[stage]
    rules = [p["SamplingRule"] for p in _of(template, "AWS::XRay::SamplingRule").values()]
    assert {(r["FixedRate"], r["ReservoirSize"], r["Priority"], r["Version"]) for r in rules} == {
        (0.05, 0, 100, 1)
    }
    assert all(r["Host"] == r["HTTPMethod"] == r["URLPath"] == r["ResourceARN"] == "*" for r in rules)
    assert all(r["RuleName"].startswith(f"cardops-{stage}-") and len(r["RuleName"]) <= 32 for r in rules)
    [api] = [r for r in rules if r["ServiceType"] == "AWS::ApiGateway::Stage"]
    [rest_api] = _of(template, "AWS::ApiGateway::RestApi").values()
    [traced_stage] = [p for p in _of(template, "AWS::ApiGateway::Stage").values() if p.get("TracingEnabled")]
    # API Gateway's service name for a stage: {api name}/{stage name}
    assert (
        api["ServiceName"] == f"{rest_api['Name']}/{traced_stage['StageName']}" == f"cardops-{stage}/{stage}"
    )
    machines = _of(template, "AWS::StepFunctions::StateMachine")
    assert all(p["TracingConfiguration"] == {"Enabled": True} for p in machines.values())
    by_name = {
        json.dumps(r["ServiceName"]) for r in rules if r["ServiceType"] == "AWS::StepFunctions::StateMachine"
    }
    # each of this stack's state machines by its own name: no other stack's resource matches
    assert by_name == {json.dumps({"Fn::GetAtt": [logical, "Name"]}) for logical in machines}


def test_the_cost_model_reads_what_is_traced(templates: dict[str, dict[str, Any]]) -> None:
    figures = bench_deployed.figures(templates["prod"])
    assert figures["webhook: xray_active"] == figures["changes: xray_active"] == 0.0
    assert figures["janitor: xray_active"] == 1.0
    assert figures["xray: rest_api_own_rule"] == figures["xray: state_machines_own_rule"] == 1.0
    assert (figures["xray: rest_api_fixed_rate"], figures["xray: rest_api_reservoir_per_second"]) == (
        0.05,
        0.0,
    )
    # the janitor's scheduler every 15 minutes, and three runs at most daily
    assert figures["xray: scheduled_active_runs_per_month"] == 30 * 24 * 4 + 3 * 30
    invocations = dict.fromkeys(cost_model.TRACE_ROOT_FUNCTIONS, 2.0)
    traces = cost_model.xray_traces(figures, invocations, rest_requests=1.0, executions=1.0)
    # nothing but the rules' 5% of the REST requests and the executions, and the scheduled runs
    assert traces["webhook"] == traces["processor"] == traces["changes"] == traces["janitor"] == 0.0
    assert traces["rest_api"] == pytest.approx(0.05) and traces["state_machines"] == pytest.approx(0.05)


def test_sampling_context_zero_is_zero_and_unset_is_the_default() -> None:
    from infra.constructs.tracing import DEFAULT_RATE, DEFAULT_RESERVOIR, sampling

    assert sampling(None, None) == (DEFAULT_RATE, DEFAULT_RESERVOIR)
    assert sampling("0", "0") == (0.0, 0)  # -c values arrive as strings
    assert sampling(0, 0) == (0.0, 0)  # and as numbers from cdk.json
    assert sampling("0.2", "1") == (0.2, 1)
    with pytest.raises(ValueError, match="xray_sampling_rate"):
        sampling("1.5", None)
    with pytest.raises(ValueError, match="xray_reservoir_per_second"):
        sampling(None, -1)
