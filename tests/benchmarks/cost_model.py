"""Monthly AWS cost for 10k, 100k and 1M payments, from the counted calls and transitions.

Every count comes from the benchmarks of the same run; the prices (ap-northeast-1, on-demand,
free tier ignored) and the traffic shape are the assumptions below, written out so that a reader
can change them.
"""

from __future__ import annotations

PRICES = {
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000166667,
    "apigw_rest_request": 4.25 / 1_000_000,
    "dynamodb_wru": 0.715 / 1_000_000,
    "dynamodb_rru": 0.1425 / 1_000_000,
    "sqs_request": 0.40 / 1_000_000,
    "sfn_transition": 0.025 / 1_000,
}
SHAPE = {
    "webhooks_per_payment": 3.0,  # authorized, captured, one refund/update on average
    "admin_calls_per_payment": 1.0,  # the store's capture
    "auto_refund_share": 0.05,  # authorizations that reach the deadline uncaptured
    "memory_gb": 0.5,
    "webhook_seconds": 0.05,
    "processor_seconds": 0.15,
    "admin_seconds": 0.15,
    "task_seconds": 0.1,
    "changes_seconds": 0.1,
    "raw_event_kb": 3.0,
}


def per_payment(results: dict[str, dict[str, float]]) -> dict[str, float]:
    web = results["webhooks"]
    flows = results["workflows"]
    webhooks = SHAPE["webhooks_per_payment"]
    # as deployed, the capture's change stops a captured payment's waiting execution
    captured_t = flows.get(
        "sfn_transitions_per_payment_stopped", flows["sfn_transitions_per_payment_captured"]
    )
    refund_t = flows["sfn_transitions_per_payment_auto_refund"]
    share = SHAPE["auto_refund_share"]
    transitions = (1 - share) * captured_t + share * refund_t
    task_invocations = transitions / 2  # every other state of the definitions is a Lambda task
    #: payment writes the change feed delivers: every webhook that changed it, and the store's capture
    changes = webhooks + SHAPE["admin_calls_per_payment"]
    wru = (
        webhooks
        * (
            web["dynamodb_writes_per_accepted_webhook"] * SHAPE["raw_event_kb"]
            + web["dynamodb_writes_per_processed_event"]
            + web["dynamodb_transact_writes_per_processed_event"] * 2 * 2  # 2 items, 2 WRU each
        )
        + task_invocations * 1
        + changes * web.get("dynamodb_writes_per_change_in_the_feed", 0.0) * 2  # transaction: 2 WRU
    )
    rru = (
        webhooks * web["dynamodb_reads_per_processed_event"]
        + task_invocations
        + changes * web.get("dynamodb_reads_per_change_in_the_feed", 0.0)
    )  # the feed's stream reads by Lambda's event source mapping are not billed
    sqs = webhooks * (web["sqs_requests_per_accepted_webhook"] + 2)  # send + receive + delete
    # one changes invocation per payment change at worst (batches of up to 100 share one)
    lambda_requests = webhooks * 2 + SHAPE["admin_calls_per_payment"] + task_invocations + changes
    gb_seconds = SHAPE["memory_gb"] * (
        webhooks * (SHAPE["webhook_seconds"] + SHAPE["processor_seconds"])
        + changes * SHAPE["changes_seconds"]
        + SHAPE["admin_calls_per_payment"] * SHAPE["admin_seconds"]
        + task_invocations * SHAPE["task_seconds"]
    )
    costs = {
        "lambda": lambda_requests * PRICES["lambda_request"] + gb_seconds * PRICES["lambda_gb_second"],
        "api_gateway": (webhooks + SHAPE["admin_calls_per_payment"]) * PRICES["apigw_rest_request"],
        "dynamodb": wru * PRICES["dynamodb_wru"] + rru * PRICES["dynamodb_rru"],
        "step_functions": transitions * PRICES["sfn_transition"],
        "sqs": sqs * PRICES["sqs_request"],
    }
    costs["total"] = sum(costs.values())
    return costs


def report(results: dict[str, dict[str, float]]) -> list[str]:
    costs = per_payment(results)
    lines = [
        "## Monthly AWS cost model",
        "",
        "From the counts above, prices for ap-northeast-1 on demand (free tier ignored) and this traffic",
        f"shape: {', '.join(f'{k}={v}' for k, v in SHAPE.items())}.",
        "",
        "| service | per payment (USD) | 10k/month | 100k/month | 1M/month |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for service, cost in costs.items():
        monthly = " | ".join(f"{cost * volume:,.2f}" for volume in (10_000, 100_000, 1_000_000))
        lines.append(f"| {service} | {cost:.6f} | {monthly} |")
    lines.append("")
    return lines
