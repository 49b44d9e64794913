"""The shape of the deployed system, defined once: the CDK stack and the local sandbox both read it.

Changing a table key, a queue or a function's handler here changes both, so the sandbox cannot
drift from what is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKFLOWS_DIR = Path(__file__).parent / "payments" / "state_machines"


@dataclass(frozen=True)
class TableSpec:
    partition_key: str = "pk"
    sort_key: str = "sk"
    #: index name → (partition key, sort key)
    #: gsi1: listings (uncaptured sales, card errors, …); gsi2: payments awaiting the provider, by
    #: the anchor their janitor checks count from (``payments.store.due_checks``); gsi3: ledger
    #: entries in time order (the statement's pages, ``ledger.store``)
    indexes: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "gsi1": ("gsi1pk", "gsi1sk"),
            "gsi2": ("gsi2pk", "gsi2sk"),
            "gsi3": ("gsi3pk", "gsi3sk"),
        }
    )
    #: what each index stores of an item (DynamoDB's ``ProjectionType``): the listings' readers use
    #: whole items; a statement page reads its entries' keys on gsi3 and gets the entries by key, so
    #: a year of entries is not stored twice. Changing one rebuilds that index (one per deploy).
    projections: dict[str, str] = field(
        default_factory=lambda: {"gsi1": "ALL", "gsi2": "ALL", "gsi3": "KEYS_ONLY"}
    )
    ttl_attribute: str = "expires_at"
    #: the change feed reads both images of every write (``CHANGE_FEED``)
    stream_view_type: str = "NEW_AND_OLD_IMAGES"


@dataclass(frozen=True)
class StreamMappingSpec:
    """An event source mapping from the table's stream to a function (stack and sandbox poller)."""

    function: str
    #: Lambda filter criteria patterns (any one matching lets a record through)
    filter_patterns: tuple[dict[str, Any], ...] = ()
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    #: retries of a failing batch before it goes to the on-failure queue (bounded, not the default -1)
    retry_attempts: int = 3
    bisect_on_error: bool = True
    #: records older than this go to the on-failure queue instead of being delivered (-1: no limit)
    max_record_age_seconds: int = 6 * 3600
    report_batch_item_failures: bool = True


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
    #: the slice's folder of ASL files (a package directory)
    directory: Path = WORKFLOWS_DIR

    @property
    def definition_path(self) -> Path:
        return self.directory / self.definition_file


TABLE = TableSpec()
EVENTS_QUEUE = QueueSpec()
#: the janitor's fan-out (scheduler → worker, batches of due payments): a failing batch is retried
#: twice, then waits in its dead-letter queue (its payments are sent again at their next checks);
#: the visibility timeout is six times the worker's timeout, as AWS advises for an SQS trigger
JANITOR_QUEUE = QueueSpec(max_receive_count=3, visibility_timeout_seconds=720)
#: how often the janitor's scheduler runs: a payment is checked within one period of coming due
JANITOR_PERIOD_MINUTES = 15

FUNCTIONS: dict[str, FunctionSpec] = {
    "webhook": FunctionSpec("cardops.handlers.webhook.handler", timeout_seconds=10),
    #: 256 MB: the processor, the change feed, the capture deadline's task and the janitor's
    #: scheduler and worker have no caller waiting and peak near 100-110 MB, every module and AWS
    #: client any function loads counted in each (``tests/benchmarks/bench_memory``: ≥ 40% free);
    #: half the CPU share at 512 MB, their GB-seconds are about halved for their waits on AWS calls
    #: and providers. The webhook (a provider waits, a cold start on its request path) and admin (a
    #: person waits; its CPU time is not measured) stay at 512 MB
    "processor": FunctionSpec("cardops.handlers.processor.handler", timeout_seconds=30, memory_mb=256),
    "admin": FunctionSpec("cardops.handlers.admin.handler", timeout_seconds=30),
    #: the web console's pages (issue 15), mounted at ``/console`` beside the admin API
    "console": FunctionSpec("cardops.handlers.console.handler", timeout_seconds=30),
    "repayment_validate": FunctionSpec("cardops.handlers.repayment.validate", timeout_seconds=60),
    "repayment_eligibility": FunctionSpec("cardops.handlers.repayment.eligibility", timeout_seconds=30),
    "repayment_await_decision": FunctionSpec("cardops.handlers.repayment.await_decision", timeout_seconds=10),
    "repayment_charge": FunctionSpec("cardops.handlers.repayment.charge", timeout_seconds=60),
    "repayment_finish": FunctionSpec("cardops.handlers.repayment.finish", timeout_seconds=10),
    "capture_deadline": FunctionSpec(
        "cardops.handlers.capture_deadline.handler", timeout_seconds=60, memory_mb=256
    ),
    "janitor": FunctionSpec("cardops.handlers.janitor.handler", timeout_seconds=120, memory_mb=256),
    "janitor_worker": FunctionSpec(
        "cardops.handlers.janitor_worker.handler", timeout_seconds=120, memory_mb=256
    ),
    "changes": FunctionSpec("cardops.handlers.changes.handler", timeout_seconds=60, memory_mb=256),
    "reconcile": FunctionSpec("cardops.handlers.reconcile.handler", timeout_seconds=900),
    "feed_sync": FunctionSpec("cardops.handlers.feed_sync.handler", timeout_seconds=900, memory_mb=1024),
    "support_case": FunctionSpec("cardops.handlers.support.case_step", timeout_seconds=30),
    "support_report": FunctionSpec("cardops.handlers.support.monthly_report", timeout_seconds=300),
}

#: the durable change feed: every write of a payment item (sk ``#PAYMENT``), old and new image,
#: to the ``changes`` function, which runs the payment listeners (``payments.wiring.payment_listeners``)
CHANGE_FEED = StreamMappingSpec(
    function="changes",
    filter_patterns=({"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["#PAYMENT"]}}}},),
)

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
    "SupportCase": StateMachineSpec(
        "support_case.asl.json",
        {"SupportCaseFunctionArn": "support_case"},
        directory=Path(__file__).parent / "support" / "state_machines",
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
