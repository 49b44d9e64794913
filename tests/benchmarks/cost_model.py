"""Monthly AWS cost per 1M payments, from the counts measured in the same run (issue 13 item 4).

Measured (``bench_webhooks``): the AWS calls of each event type through the webhook, the processor
and the change feed's listeners, as deployed. Measured (``bench_workflows``, read through its
figures): Step Functions transitions per payment, captured and auto-refunded. Everything else is an
assumption written out below (the traffic shape, item sizes, log volume), so a reader can change
it. Prices: ap-northeast-1, on demand, free tier ignored. Every figure is printed with its goal.
"""

from __future__ import annotations

import math

PRICES = {
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000166667,
    "apigw_rest_request": 4.25 / 1_000_000,
    "dynamodb_wru": 0.715 / 1_000_000,
    "dynamodb_rru": 0.1425 / 1_000_000,
    "dynamodb_gb_month": 0.285,
    "sqs_request": 0.40 / 1_000_000,
    "sfn_transition": 0.025 / 1_000,
    "logs_ingested_gb": 0.76,
    "logs_stored_gb_month": 0.033,
}
SHAPE = {
    # events per payment: every payment is authorized; captured unless auto-refunded
    "auto_refund_share": 0.05,
    "refund_share": 0.10,  # refunds (webhook) per payment
    "dispute_share": 0.005,
    "duplicate_webhooks_per_payment": 0.5,  # providers retry
    "admin_calls_per_payment": 1.0,  # the store's capture
    "janitor_checks_per_payment": 2.0,  # open payments checked while the provider is awaited
    "janitor_provider_calls_per_check": 1.0,
    "memory_gb": 0.5,
    "webhook_seconds": 0.05,
    "processor_seconds": 0.15,
    "changes_seconds": 0.1,
    "admin_seconds": 0.15,
    "task_seconds": 0.1,
    "janitor_seconds_per_check": 0.2,  # mostly waiting for the provider's answer
    "raw_event_kb": 3.0,
    "raw_event_retention_months": 3.0,  # RAW_EVENT_TTL_DAYS = 90
    "payment_item_kb": 2.0,  # the payment, its history and indexes
    "ledger_kb_per_payment": 1.0,  # postings (kept)
    "stored_months": 12.0,  # payments and ledger at steady state: a year of payments held
    "gsis_per_payment_write": 2.0,  # gsi1 (store listings) and gsi2 (janitor's due index)
    "transaction_items": 2.0,  # items in one TransactWriteItems (payment + history/ledger)
    "log_kb_per_invocation": 1.2,  # START/END/REPORT and one structured line
    "log_retention_months": 1.0,  # RetentionDays.ONE_MONTH
}
GOALS = {"total": 100.0, "step_functions": 40.0}
KINDS = ("authorization", "capture", "refund", "dispute")


def _events_per_payment() -> dict[str, float]:
    return {
        "authorization": 1.0,
        "capture": 1.0 - SHAPE["auto_refund_share"],
        "refund": SHAPE["refund_share"],
        "dispute": SHAPE["dispute_share"],
    }


def per_million(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """USD per 1M payments by service (a month's traffic of 1M payments at steady state)."""
    web = results["webhooks"]
    flows = results["workflows"]
    events = _events_per_payment()
    webhooks = sum(events.values())

    def each(figure: str) -> float:
        return sum(events[k] * web.get(f"{k}: {figure}", 0.0) for k in KINDS)

    # DynamoDB request units: a raw event's put is its size; every other write 1 WRU (items < 1 KB
    # apart from the raw event); a transaction 2 WRU per item; a payment write also writes its GSIs
    transacts = each("dynamodb_transacts_processor") + each("dynamodb_transacts_listeners")
    writes = each("dynamodb_writes_processor") + each("dynamodb_writes_listeners")
    raw_puts = webhooks + SHAPE["duplicate_webhooks_per_payment"]  # a duplicate's failed put bills too
    marks = webhooks  # mark_enqueued
    janitor_checks = SHAPE["janitor_checks_per_payment"]
    gsi_wru = (transacts + janitor_checks) * SHAPE["gsis_per_payment_write"]
    wru = (
        raw_puts * math.ceil(SHAPE["raw_event_kb"])
        + marks
        + writes
        + transacts * SHAPE["transaction_items"] * 2
        + gsi_wru
        + janitor_checks  # the next-check update
    )
    rru = (
        each("dynamodb_reads_processor")
        + each("dynamodb_reads_listeners")
        + janitor_checks  # one GetItem per check (the scheduler's Query pages are shared)
    )
    transitions = (1 - SHAPE["auto_refund_share"]) * flows["sfn_transitions_per_payment_captured"] + SHAPE[
        "auto_refund_share"
    ] * flows["sfn_transitions_per_payment_auto_refund"]
    task_invocations = transitions / 2  # at most every other state is a Lambda task
    invocations = {
        "webhook": webhooks + SHAPE["duplicate_webhooks_per_payment"],
        "processor": webhooks,
        "changes": webhooks + SHAPE["admin_calls_per_payment"],
        "admin": SHAPE["admin_calls_per_payment"],
        "tasks": task_invocations,
        "janitor": janitor_checks,
    }
    seconds = {
        "webhook": SHAPE["webhook_seconds"],
        "processor": SHAPE["processor_seconds"],
        "changes": SHAPE["changes_seconds"],
        "admin": SHAPE["admin_seconds"],
        "tasks": SHAPE["task_seconds"],
        "janitor": SHAPE["janitor_seconds_per_check"],
    }
    gb_seconds = SHAPE["memory_gb"] * sum(invocations[k] * seconds[k] for k in invocations)
    sqs = webhooks * 3 + 3 * each("sqs_calls_listeners")  # send + receive + delete per message
    stored_gb = (
        (
            SHAPE["raw_event_kb"] * webhooks * SHAPE["raw_event_retention_months"]
            + (SHAPE["payment_item_kb"] + SHAPE["ledger_kb_per_payment"]) * SHAPE["stored_months"]
        )
        / 1024
        / 1024
    )
    log_gb = sum(invocations.values()) * SHAPE["log_kb_per_invocation"] / 1024 / 1024
    costs = {
        "lambda": sum(invocations.values()) * PRICES["lambda_request"]
        + gb_seconds * PRICES["lambda_gb_second"],
        "api_gateway": (invocations["webhook"] + SHAPE["admin_calls_per_payment"])
        * PRICES["apigw_rest_request"],
        "dynamodb_requests": wru * PRICES["dynamodb_wru"] + rru * PRICES["dynamodb_rru"],
        "dynamodb_gsi_writes": gsi_wru * PRICES["dynamodb_wru"],
        "dynamodb_storage": stored_gb * PRICES["dynamodb_gb_month"],
        "step_functions": transitions * PRICES["sfn_transition"],
        "sqs": sqs * PRICES["sqs_request"],
        "cloudwatch_logs": log_gb
        * (PRICES["logs_ingested_gb"] + PRICES["logs_stored_gb_month"] * SHAPE["log_retention_months"]),
    }
    million = {service: cost * 1_000_000 for service, cost in costs.items()}
    # the GSI writes are inside dynamodb_requests' WRU: shown apart, not added twice
    million["total"] = sum(v for k, v in million.items() if k != "dynamodb_gsi_writes")
    million["_wru_per_payment"] = wru
    million["_rru_per_payment"] = rru
    million["_transitions_per_payment"] = transitions
    million["_lambda_invocations_per_payment"] = sum(invocations.values())
    million["_janitor_provider_calls_per_payment"] = (
        janitor_checks * SHAPE["janitor_provider_calls_per_check"]
    )
    return million


def report(results: dict[str, dict[str, float]]) -> list[str]:
    if "webhooks" not in results or "workflows" not in results:
        return ["## Cost model", "", "(needs the webhooks and workflows benchmarks of the same run)", ""]
    figures = per_million(results)
    lines = [
        "## Cost per 1M payments (a month's traffic at steady state)",
        "",
        "Counts measured above (AWS calls per event type; Step Functions transitions from the workflows",
        "benchmark); prices for ap-northeast-1 on demand (free tier ignored); assumptions:",
        f"{', '.join(f'{k}={v}' for k, v in SHAPE.items())}.",
        "",
        "| service | USD per 1M payments | goal |",
        "| --- | ---: | ---: |",
    ]
    for service, cost in figures.items():
        if service.startswith("_"):
            continue
        goal = GOALS.get(service)
        note = " (inside dynamodb_requests)" if service == "dynamodb_gsi_writes" else ""
        lines.append(f"| {service}{note} | {cost:,.2f} | {'≤ ' + format(goal, ',.0f') if goal else ''} |")
    lines += ["", "| count per payment | value |", "| --- | ---: |"]
    lines += [f"| {k.lstrip('_')} | {v:,.3f} |" for k, v in figures.items() if k.startswith("_")]
    lines.append("")
    return lines
