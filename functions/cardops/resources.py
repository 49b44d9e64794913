"""The shape of the deployed system, defined once: the CDK stack and the local sandbox both read it.

Changing a table key, a queue or a function's handler here changes both, so the sandbox cannot
drift from what is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

WORKFLOWS_DIR = Path(__file__).parent / "payments" / "state_machines"


@dataclass(frozen=True)
class TableSpec:
    partition_key: str = "pk"
    sort_key: str = "sk"
    #: index name → (partition key, sort key)
    #: gsi1: listings (uncaptured sales, card errors, …); gsi2: open payments for the janitor
    indexes: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {"gsi1": ("gsi1pk", "gsi1sk"), "gsi2": ("gsi2pk", "gsi2sk")}
    )
    ttl_attribute: str = "expires_at"


@dataclass(frozen=True)
class QueueSpec:
    max_receive_count: int = 5
    visibility_timeout_seconds: int = 180


@dataclass(frozen=True)
class FunctionSpec:
    handler: str
    timeout_seconds: int = 30
    memory_mb: int = 512


@dataclass(frozen=True)
class StateMachineSpec:
    definition_file: str
    #: definition placeholder → function key in FUNCTIONS
    function_substitutions: dict[str, str] = field(default_factory=dict)

    @property
    def definition_path(self) -> Path:
        return WORKFLOWS_DIR / self.definition_file


TABLE = TableSpec()
EVENTS_QUEUE = QueueSpec()

FUNCTIONS: dict[str, FunctionSpec] = {
    "webhook": FunctionSpec("cardops.handlers.webhook.handler", timeout_seconds=10),
    "processor": FunctionSpec("cardops.handlers.processor.handler", timeout_seconds=30),
    "admin": FunctionSpec("cardops.handlers.admin.handler", timeout_seconds=30),
    "repayment_validate": FunctionSpec("cardops.handlers.repayment.validate", timeout_seconds=60),
    "repayment_eligibility": FunctionSpec("cardops.handlers.repayment.eligibility", timeout_seconds=30),
    "repayment_await_decision": FunctionSpec("cardops.handlers.repayment.await_decision", timeout_seconds=10),
    "repayment_charge": FunctionSpec("cardops.handlers.repayment.charge", timeout_seconds=60),
    "repayment_finish": FunctionSpec("cardops.handlers.repayment.finish", timeout_seconds=10),
    "capture_deadline": FunctionSpec("cardops.handlers.capture_deadline.handler", timeout_seconds=60),
    "janitor": FunctionSpec("cardops.handlers.janitor.handler", timeout_seconds=300),
    "feed_sync": FunctionSpec("cardops.handlers.feed_sync.handler", timeout_seconds=900, memory_mb=1024),
}

#: output key (``{name}StateMachineArn``) → definition
STATE_MACHINES: dict[str, StateMachineSpec] = {
    "Repayment": StateMachineSpec(
        "repayment.asl.json",
        {
            "RepaymentValidateFunctionArn": "repayment_validate",
            "RepaymentEligibilityFunctionArn": "repayment_eligibility",
            "RepaymentAwaitDecisionFunctionArn": "repayment_await_decision",
            "RepaymentChargeFunctionArn": "repayment_charge",
            "RepaymentFinishFunctionArn": "repayment_finish",
        },
    ),
    "CaptureDeadline": StateMachineSpec(
        "capture_deadline.asl.json", {"CaptureDeadlineFunctionArn": "capture_deadline"}
    ),
}

SANDBOX_SECRETS: dict[str, str] = {
    "stripe_webhook_secret": "whsec_cardops_sandbox",
    "payjp_webhook_token": "whook_cardops_sandbox",
    "sbps_hash_key": "sbps_cardops_sandbox",
    "payjp_secret_key": "sk_test_cardops_sandbox",
    "stripe_secret_key": "sk_test_stripe_cardops_sandbox",
    "sbps_merchant_id": "30132",
    "sbps_service_id": "103",
    "sbps_api_hash_key": "sbps_cardops_sandbox",
}
"""The documented sandbox secrets; ``CARDOPS_*`` environment variables override them (SPEC §8)."""


def function_output_key(key: str) -> str:
    """``repayment_charge`` → ``RepaymentChargeFunctionName``: the output naming a function."""
    return "".join(part.capitalize() for part in key.split("_")) + "FunctionName"
