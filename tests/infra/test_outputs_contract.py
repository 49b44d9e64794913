"""SPEC §8 contract 4: the sandbox writes the same output keys as the deployed stack, plus its own."""

from __future__ import annotations

from typing import Any

from tests.conftest import SandboxProcess

SANDBOX_ONLY = {"PayjpSecretKey", "StripeSecretKey"}


def test_sandbox_outputs_have_every_stack_output_key(
    template: dict[str, Any], sandbox: SandboxProcess
) -> None:
    stack_keys = set(template["Outputs"])
    sandbox_keys = set(sandbox.outputs)
    assert stack_keys - sandbox_keys == set()
    assert sandbox_keys - stack_keys <= SANDBOX_ONLY
    for required in (
        "ApiUrl",
        "WebhookApiUrl",
        "AdminApiUrl",
        "AwsEndpointUrl",
        "FeedBucketName",
        "EvidenceBucketName",
        "PayjpApiBaseUrl",
        "StripeApiBaseUrl",
        "SbpsApiBaseUrl",
    ):
        assert required in stack_keys
    assert {"CaptureDeadlineStateMachineArn", "RepaymentStateMachineArn"} <= stack_keys
    assert sandbox.outputs["ApiUrl"].startswith("http://127.0.0.1:")
    assert sandbox.outputs["WebhookApiUrl"].startswith("http://127.0.0.1:")
    assert sandbox.outputs["AdminApiUrl"].startswith("http://127.0.0.1:")
