"""Lambda entry point: the janitor's worker (SQS, one batch of due payments per message).

Each payment is re-fetched from its provider and the snapshot applied (``payments.use_cases.janitor``).
A payment that fails (provider or table unavailable) is asked again at its next check, so the
message still succeeds; anything else fails the message, which SQS retries and then parks in the
janitor's dead-letter queue (alarmed) — its payments' next checks still come, so nothing is lost.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cardops.handlers._common import batch_entry_point
from cardops.kernel import clock
from cardops.kernel.observability import make_logger
from cardops.payments.store.due_checks import parse_message
from cardops.payments.use_cases.janitor import check_due_payments
from cardops.payments.wiring import worker_deps

logger = make_logger("cardops-janitor-worker")
metrics = Metrics(namespace="cardops", service="janitor")
tracer = Tracer(service="cardops-janitor-worker")


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(record.message_id)
    run_id, refs = parse_message(record.body)
    report = check_due_payments(refs, worker_deps(), now=clock.now(), run_id=run_id)
    for name, value in (
        ("JanitorChecked", report.checked),
        ("JanitorRepaired", len(report.repaired)),
        ("JanitorUnchanged", report.unchanged),
        ("JanitorSkipped", report.skipped),
        ("JanitorFailed", len(report.failed)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info(
        "janitor batch",
        run_id=run_id,
        checked=report.checked,
        repaired=report.repaired,
        unchanged=report.unchanged,
        without_api=report.without_api,
        skipped=report.skipped,
        failed=report.failed,
    )


handler = batch_entry_point(EventType.SQS, record_handler, logger=logger, tracer=tracer, metrics=metrics)
