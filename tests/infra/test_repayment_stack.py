"""The re-payment workflow in the synthesized stack (one synth per session, tests/infra/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

from cardops import resources


def _state_machine(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    machines = {
        k: v
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith("PaymentsRepayment")
    }
    assert len(machines) == 1
    return next(iter(machines.items()))


def test_the_definition_is_the_file_the_sandbox_runs(template: dict[str, Any]) -> None:
    _, machine = _state_machine(template)
    props = machine["Properties"]
    assert "DefinitionS3Location" in props  # the asset of payments/state_machines/repayment.asl.json
    substitutions = props["DefinitionSubstitutions"]
    assert set(substitutions) == set(resources.STATE_MACHINES["Repayment"].function_substitutions)
    for value in substitutions.values():
        assert value["Fn::GetAtt"][0].startswith("PaymentsRepayment")
    assert props["StateMachineType"] == "STANDARD"


def test_output_and_admin_environment(template: dict[str, Any]) -> None:
    logical, _ = _state_machine(template)
    assert template["Outputs"]["RepaymentStateMachineArn"]["Value"] == {"Ref": logical}
    admin = next(
        v
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and k.startswith("ApiAdminFunction")
    )
    env = admin["Properties"]["Environment"]["Variables"]
    assert env["REPAYMENT_STATE_MACHINE_ARN"] == {"Ref": logical}
    assert "EVIDENCE_BUCKET_NAME" in env


def test_the_admin_api_may_only_put_evidence_and_answer_tasks(template: dict[str, Any]) -> None:
    policies = [
        v
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::IAM::Policy" and k.startswith("ApiAdminRole")
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    s3_actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith("s3:") and "evidence" in json.dumps(s["Resource"])
    }
    assert s3_actions == {"s3:PutObject"}
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"states:StartExecution", "states:SendTaskSuccess", "states:GetExecutionHistory"} <= actions
