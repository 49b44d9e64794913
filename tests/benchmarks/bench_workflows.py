"""State transitions per payment of the capture-deadline workflow, and what they cost (SPEC §9).

Runs the real definition and handlers in moto with the change feed's listeners wired as deployed (a
capture's change stops the waiting execution), drives the sandbox clock through reminders and the
deadline, and counts transitions from each execution's history: every state entered (Wait, Task,
Choice, Succeed/Fail alike), plus every retried task attempt (Step Functions bills retries as
transitions). Prices and the share of payments reaching the deadline come from ``cost_model``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace
from typing import Any


@contextmanager
def _workflow_environment() -> Iterator[Any]:
    from moto import mock_aws
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    from cardops import resources
    from cardops.kernel import aws, clock
    from cardops.kernel.config import reset_settings
    from cardops.kernel.webhook_secrets import clear_cached_secrets
    from cardops.payments.providers import registry
    from cardops.sandbox import lambda_runner
    from cardops.sandbox.provision import provision
    from cardops.sandbox.stream_poller import change_feed
    from tests import helpers

    saved = dict(os.environ)
    saved_time = retrier_decl.time
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    retrier_decl.time = SimpleNamespace(sleep=lambda seconds: None)  # type: ignore[assignment]
    try:
        with mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        ):
            aws.reset_clients()
            clear_cached_secrets()
            made = provision(dict(resources.SANDBOX_SECRETS), prefix="cardops-bench")
            os.environ.update(made.environment(payjp_api_base="http://127.0.0.1:9"))
            reset_settings()
            registry.reset()
            clock.reset()
            helpers.use_change_feed(change_feed(made))  # what follows a payment write, as in AWS
            yield made
    finally:
        helpers.use_change_feed(None)
        clock.reset()
        lambda_runner.uninstall()
        retrier_decl.time = saved_time
        os.environ.clear()
        os.environ.update(saved)
        aws.reset_clients()
        reset_settings()


def transitions(arn: str) -> int:
    from tests.integration.deadline.conftest import history

    events = history(arn)
    entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
    task_entered = sum(1 for e in events if e["type"] == "TaskStateEntered")
    scheduled = sum(1 for e in events if e["type"] == "TaskScheduled")
    return entered + max(0, scheduled - task_entered)


#: issue 13: state transitions per payment
GOALS = {"stopped": 1, "captured": 4, "auto_refund": 10}
#: issue 13: the Step Functions share of the cost model per 1M payments
SFN_COST_GOAL_USD = 40.0


def run() -> dict[str, float]:
    from unittest import mock

    from cardops.kernel import clock
    from cardops.kernel import workflows as workflow_starter
    from cardops.kernel.calendar import tokyo_date
    from cardops.payments.providers import registry
    from cardops.payments.store.claims import OutcomeClaims
    from cardops.payments.store.notifications import EventPublisher
    from cardops.payments.store.payments import PaymentRepository, ReservationRepository
    from cardops.payments.use_cases import capture
    from tests.benchmarks.cost_model import PRICES, SHAPE
    from tests.helpers import drain_changes
    from tests.integration.deadline.conftest import (
        RecordingProvider,
        authorize,
        execution_arn,
        past_the_first_reminder,
        wait_for_execution,
        waiting_at,
    )

    provider = RecordingProvider()
    original = registry.provider_client
    counts: dict[str, int] = {}
    try:
        with _workflow_environment() as made:
            registry.provider_client = lambda name: provider  # type: ignore[assignment]
            deps = capture.Deps(
                payments=PaymentRepository(),
                claims=OutcomeClaims(),
                providers=lambda name: provider,
                reservations=ReservationRepository(),
                events=EventPublisher(),
            )
            visit = tokyo_date(clock.now()) + timedelta(days=3)

            # stopped: the store captures while the execution waits; the capture's change reaches the
            # listener (the feed drained, as deployed), which stops the execution
            authorize(provider, "ch_bench_stopped", visit_date=visit)
            arn = execution_arn(made, "ch_bench_stopped")
            waiting_at(arn, 1)
            capture.capture(deps, "payjp", "ch_bench_stopped", amount=None, now=clock.now(), actor="bench")
            drain_changes()
            assert wait_for_execution(arn)["status"] == "ABORTED"
            counts["stopped"] = transitions(arn)

            # captured: the same, but the stop is lost; the execution ends on its own at its next wake-up
            authorize(provider, "ch_bench_captured", visit_date=visit)
            arn = execution_arn(made, "ch_bench_captured")
            waiting_at(arn, 1)
            capture.capture(deps, "payjp", "ch_bench_captured", amount=None, now=clock.now(), actor="bench")
            lost = mock.patch.object(workflow_starter, "stop_if_running", side_effect=RuntimeError("lost"))
            with lost:
                drain_changes()
            clock.advance(timedelta(days=30))
            assert wait_for_execution(arn)["status"] == "SUCCEEDED"
            counts["captured"] = transitions(arn)

            # auto-refund: both reminders, then the deadline and the provider's cancel
            clock.reset()
            arn = past_the_first_reminder(made, provider, "ch_bench_expired", visit_in_days=2)
            waiting_at(arn, 2)
            clock.advance(timedelta(hours=48))
            waiting_at(arn, 3)
            clock.advance(timedelta(hours=24))
            done = wait_for_execution(arn)
            assert done["status"] == "SUCCEEDED", done
            assert provider.count("cancel", "ch_bench_expired") == 1
            counts["auto_refund"] = transitions(arn)
    finally:
        registry.provider_client = original  # type: ignore[assignment]
    figures: dict[str, float] = {}
    for path, count in counts.items():
        figures[f"sfn_transitions_per_payment_{path}"] = float(count)
        figures[f"sfn_transitions_per_payment_{path}_goal_max"] = float(GOALS[path])
    million = 1_000_000 * PRICES["sfn_transition"]
    share = SHAPE["auto_refund_share"]
    # as deployed: a captured payment's execution is stopped by the capture's change (before its
    # first reminder; each reminder already sent adds 3); the rest reach the deadline
    deployed = (1 - share) * counts["stopped"] + share * counts["auto_refund"]
    worst = (1 - share) * counts["captured"] + share * counts["auto_refund"]
    figures["sfn_cost_usd_per_million_payments"] = round(deployed * million, 2)
    figures["sfn_cost_usd_per_million_payments_goal_max"] = SFN_COST_GOAL_USD
    figures["sfn_cost_usd_per_million_payments_no_stop"] = round(worst * million, 2)
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
