"""State transitions per payment of the capture-deadline workflow, and what they cost (SPEC §9).

Runs the real definition and handlers in moto, drives the sandbox clock through reminders and the
deadline, and counts transitions from each execution's history: every state entered, plus every
retried task attempt (Step Functions bills retries as transitions). Standard workflows cost
$0.025 per 1,000 transitions (free tier ignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

PRICE_PER_TRANSITION_USD = 0.025 / 1000


@contextmanager
def _workflow_environment() -> Iterator[Any]:
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    from cardops import resources
    from cardops.kernel import aws, clock
    from cardops.kernel.config import reset_settings
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
            parameters.clear_caches()
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


def run() -> dict[str, float]:
    from cardops.kernel import clock
    from cardops.kernel.calendar import tokyo_date
    from cardops.payments.providers import registry
    from cardops.payments.store.claims import OutcomeClaims
    from cardops.payments.store.notifications import EventPublisher
    from cardops.payments.store.payments import PaymentRepository, ReservationRepository
    from cardops.payments.use_cases import capture
    from tests.integration.deadline.conftest import (
        RecordingProvider,
        authorize,
        execution_arn,
        wait_for_execution,
        waiting_at,
    )

    provider = RecordingProvider()
    original = registry.provider_client
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
            # captured path: the store captures while the workflow waits for the first reminder
            authorize(provider, "ch_bench_captured", visit_date=tokyo_date(clock.now()) + timedelta(days=3))
            captured_arn = execution_arn(made, "ch_bench_captured")
            waiting_at(captured_arn, 1)
            capture.capture(deps, "payjp", "ch_bench_captured", amount=None, now=clock.now(), actor="bench")
            clock.advance(timedelta(days=30))
            wait_for_execution(captured_arn)
            captured = transitions(captured_arn)

            # auto-refund path: both reminders, then the deadline and the provider cancel
            clock.reset()
            authorize(provider, "ch_bench_expired", visit_date=tokyo_date(clock.now()) + timedelta(days=2))
            expired_arn = execution_arn(made, "ch_bench_expired")
            payment = PaymentRepository().get("payjp", "ch_bench_expired")
            assert payment is not None and payment.capture_deadline is not None
            waiting_at(expired_arn, 1)
            clock.advance(payment.capture_deadline - clock.now() - timedelta(hours=71))
            waiting_at(expired_arn, 2)
            clock.advance(timedelta(hours=48))
            waiting_at(expired_arn, 3)
            clock.advance(timedelta(hours=24))
            done = wait_for_execution(expired_arn)
            assert done["status"] == "SUCCEEDED", done
            expired = transitions(expired_arn)
    finally:
        registry.provider_client = original  # type: ignore[assignment]
    million = 1_000_000 * PRICE_PER_TRANSITION_USD
    return {
        "sfn_transitions_per_payment_captured": float(captured),
        "sfn_transitions_per_payment_auto_refund": float(expired),
        "sfn_cost_usd_per_million_payments_captured": round(captured * million, 2),
        "sfn_cost_usd_per_million_payments_auto_refund": round(expired * million, 2),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
