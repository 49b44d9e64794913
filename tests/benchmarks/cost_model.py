"""Monthly AWS cost per 1M payments, from the figures measured in the same run (issue 13 item 4).

Measured (``bench_webhooks``): the AWS calls of each event type through the webhook, the processor
and the change feed's listeners, as deployed, for a payment of a store that already has payments
(steady state; the store's first payment is printed beside); the items of each TransactWriteItems
and the bytes each bills; the bytes each function logs per invocation (INFO,
EMF metrics on); the bytes each event leaves in the table (raw event, kept items, index entries) and
the payment item's size. Measured (``bench_workflows``): Step Functions transitions per payment.
Read from the synthesized template (``bench_deployed``): each function's memory and architecture,
its log group's retention and class, and its log format and system log level (Lambda's START/END/
REPORT lines are written only at INFO or more verbose). What is left is the traffic shape and
durations below, written out so a reader can change them. Prices: ap-northeast-1, on demand, free
tier ignored, from the AWS Price List API (offer files, usage types named beside each price,
checked 2026-12).
"""

from __future__ import annotations

import math

from cardops.payments.store.due_checks import SQS_BATCH
from cardops.payments.use_cases.janitor import SchedulerDeps, WorkerDeps
from tests.benchmarks.footprint import ITEM_OVERHEAD_BYTES, LOG_EVENT_OVERHEAD_BYTES, lambda_platform_lines

PRICES = {
    "lambda_request": 0.20 / 1_000_000,  # AWSLambda APN1-Request (and APN1-Request-ARM)
    "lambda_gb_second": 0.0000166667,  # AWSLambda APN1-Lambda-GB-Second (x86_64, first tier)
    "lambda_gb_second_arm": 0.0000133334,  # AWSLambda APN1-Lambda-GB-Second-ARM (first tier)
    "apigw_rest_request": 4.25 / 1_000_000,  # AmazonApiGateway APN1-ApiGatewayRequest (first 333M)
    # AmazonApiGateway APN1-ApiGatewayHttpRequest (first 300M; metered per 512 KB, webhooks are smaller)
    "apigw_http_request": 1.29 / 1_000_000,
    # DynamoDB on demand after the 2024-11-01 cut (already current here: 0.715 and 0.1425)
    "dynamodb_wru": 0.715 / 1_000_000,  # AmazonDynamoDB APN1-WriteRequestUnits
    "dynamodb_rru": 0.1425 / 1_000_000,  # AmazonDynamoDB APN1-ReadRequestUnits
    "dynamodb_gb_month": 0.285,  # AmazonDynamoDB APN1-TimedStorage-ByteHrs (above the free 25 GB)
    # the Standard-IA table class (APN1-IA-WriteRequestUnits, APN1-IA-ReadRequestUnits,
    # APN1-IA-TimedStorage-ByteHrs): requests 25% dearer, storage 60% cheaper than Standard in the
    # same Region (DynamoDB pricing page and developer guide, "Considerations when choosing a table
    # class"); the Tokyo figures are those ratios applied to the Standard prices above
    "dynamodb_wru_ia": 0.715 * 1.25 / 1_000_000,
    "dynamodb_rru_ia": 0.1425 * 1.25 / 1_000_000,
    "dynamodb_gb_month_ia": 0.285 * 0.4,
    "sqs_request": 0.40 / 1_000_000,  # AWSQueueService APN1-Requests-Tier1 (standard)
    "sfn_transition": 0.025 / 1_000,  # AWSStepFunctions APN1-StateTransition
    "logs_ingested_gb": 0.76,  # AmazonCloudWatch APN1-DataProcessing-Bytes (Standard class)
    "logs_ingested_gb_ia": 0.38,  # AmazonCloudWatch APN1-DataProcessingIA-Bytes (Infrequent Access)
    "logs_stored_gb_month": 0.033,  # AmazonCloudWatch APN1-TimedStorage-ByteHrs
    # AWSXRay APN1-XRay-TracesStored: 5.00 USD per million traces recorded (retrieved or scanned
    # traces, 0.50 per million, are what operators read: not traffic, not priced here)
    "xray_trace_recorded": 5.00 / 1_000_000,
    # by the month, whatever the traffic (``fixed_per_month``)
    "alarm_month": 0.10,  # AmazonCloudWatch APN1-CW:AlarmMonitorUsage (standard resolution)
    "composite_alarm_month": 0.50,  # AmazonCloudWatch APN1-CW:AlarmMonitorUsage (composite)
    "dashboard_month": 3.00,  # AmazonCloudWatch APN1-DashboardsUsageHour (beyond the account's 3 free)
    "secret_month": 0.40,  # AWSSecretsManager APN1-AWSSecretsManager-Secrets
}
SHAPE = {
    # events per payment: every payment is authorized; captured unless auto-refunded
    "auto_refund_share": 0.05,
    "refund_share": 0.10,  # refunds (webhook) per payment
    "dispute_share": 0.005,
    "duplicate_webhooks_per_payment": 0.5,  # providers retry
    "admin_calls_per_payment": 1.0,  # the store's capture
    # how long an authorization waits for the store's capture (unknown here: the platform's data
    # decides; stores capture after the visit, within the authorization's validity, and the
    # reminders at 72 h and 24 h before the deadline expect many to capture late). The janitor
    # checks an authorized payment on its policy's schedule all that time (``checks_while_open``)
    "hours_authorized_before_capture": 48.0,
    # an auto-refunded payment stays authorized until its deadline: PAY.JP's default 7 days of
    # validity less the 12 h safety margin (``capture_deadline``)
    "hours_authorized_before_expiry": 156.0,
    "janitor_provider_calls_per_check": 1.0,
    # the webhook, processor and changes functions' durations are measured (CPU, AWS calls); each
    # call's round trip within the region (DynamoDB, SQS, Step Functions) is taken as
    "aws_call_seconds": 0.015,
    "admin_seconds": 0.15,
    "task_seconds": 0.1,
    # a janitor check: the provider's answer to a re-fetch (the checks of a message wait for theirs
    # at once, ``WorkerDeps.concurrency``), and its own CPU at one vCPU (read, merge, the answer's
    # parsing: about 7 ms measured on moto with the provider emulator, taken as 10)
    "janitor_provider_seconds": 0.2,
    "janitor_cpu_seconds_per_check": 0.01,
    # a check reads the payment once (its due state, which the merge uses) and writes nothing
    "raw_event_retention_months": 3.0,  # RAW_EVENT_TTL_DAYS = 90
    "stored_months": 12.0,  # payments and ledger at steady state: a year of payments held
    # a capture reads whether its store is listed unless its container has seen the store
    # (payments.store.StoreMarkers): priced as if no container were ever warm (the bench's is)
    "marker_reads_per_capture": 1.0,
}
#: an eventually consistent read of an item up to 4 KB (the marker's) bills half a read unit
EVENTUALLY_CONSISTENT_RRU = 0.5
#: a month's fixed load: the janitor's scheduler runs every ``JANITOR_PERIOD_MINUTES``; Lambda polls
#: each SQS trigger with long polls of 20 s from about five pollers while the queue is empty (the
#: Lambda developer guide's starting pollers for a queue; each empty receive is a billed request)
MONTH_MINUTES = 30 * 24 * 60
FIXED = {"sqs_pollers_per_trigger": 5.0, "sqs_long_poll_seconds": 20.0}
GOALS = {"total": 100.0, "step_functions": 40.0}
#: the traffic a month of 1M payments makes, spread evenly over 30 days (X-Ray's reservoirs are per
#: second, so its share depends on the rate, not only on the counts per payment)
PAYMENTS_PER_MONTH = 1_000_000
PAYMENTS_PER_SECOND = PAYMENTS_PER_MONTH / (MONTH_MINUTES * 60)
#: Lambda's own sampling of an Active function invoked without a sampled trace header (a queue, a
#: stream, a schedule, the HTTP API): 1 a second, then 5%, taken here per function (Lambda developer
#: guide, "Using AWS Lambda with AWS X-Ray")
LAMBDA_RESERVOIR_PER_SECOND = 1.0
LAMBDA_FIXED_RATE = 0.05
#: the model's functions invoked by a queue, a stream or an HTTP API (no sampled header: in Active
#: each invocation starts a trace); the webhook and the admin function behind the REST stage are in
#: its request's trace instead, and the tasks in their execution's
TRACE_ROOT_FUNCTIONS = ("webhook", "admin", "processor", "changes", "janitor")
KINDS = ("authorization", "capture", "refund", "dispute")
#: the model's functions → the deployed function whose memory, architecture and logs price them
FUNCTION_KEYS = {
    "webhook": "webhook",
    "processor": "processor",
    "changes": "changes",
    "admin": "admin",
    "tasks": "capture_deadline",
    "janitor": "janitor_worker",
}
#: the functions whose log lines the webhooks benchmark captures (the others log like their mean)
LOGGED = ("webhook", "processor", "changes")
KB = 1024
#: Lambda allocates CPU in proportion to memory, one vCPU at 1,769 MB (Lambda developer guide,
#: "Configure Lambda function memory")
FULL_VCPU_MB = 1769
#: due payments per janitor queue message: what the scheduler packs (``SchedulerDeps.batch_size``)
PAYMENTS_PER_MESSAGE: int = SchedulerDeps.batch_size
#: of which the worker checks this many at once (``WorkerDeps.concurrency``)
CHECKS_AT_ONCE: int = WorkerDeps.concurrency


def janitor_message_seconds(memory_mb: float) -> float:
    """A janitor message's billed duration: every check's CPU (at the function's share of a vCPU),
    plus one round of waits per ``CHECKS_AT_ONCE`` checks (the payment's read and the provider's
    answer; a check that finds nothing writes nothing)."""
    share = min(1.0, memory_mb / FULL_VCPU_MB)
    rounds = math.ceil(PAYMENTS_PER_MESSAGE / CHECKS_AT_ONCE)
    cpu = PAYMENTS_PER_MESSAGE * SHAPE["janitor_cpu_seconds_per_check"] / share
    return cpu + rounds * (SHAPE["janitor_provider_seconds"] + SHAPE["aws_call_seconds"])


def checks_while_open(hours_open: float) -> int:
    """The janitor's checks of a payment that stays authorized ``hours_open`` hours after its last
    change, on the deployed policy (``payments.domain.due_checks.POLICY``): its authorized
    schedule's offsets (the quiet period, then each wait doubled up to ``cap_authorized``) after
    its anchor, the change plus its mean jitter."""
    from cardops.payments.domain.due_checks import POLICY, Schedule

    jitter = POLICY.quiet.total_seconds() * POLICY.jitter / 2
    offsets = POLICY.offsets(Schedule.AUTHORIZED)
    return sum(1 for offset in offsets if offset.total_seconds() + jitter <= hours_open * 3600)


def scheduler_queries_per_run() -> int:
    """The scheduler's Query calls in a run at steady state: per schedule and shard its oldest
    anchor, then one range per offset (payments open as long as the horizon: every range is read)."""
    from cardops.payments.domain.due_checks import POLICY, Schedule
    from cardops.payments.store.due_checks import OPEN_SHARDS

    return OPEN_SHARDS * sum(1 + len(POLICY.offsets(schedule)) for schedule in Schedule)


def janitor_checks_per_payment(
    hours_before_capture: float | None = None, hours_before_expiry: float | None = None
) -> float:
    """Checks per payment: captured ones until their capture, auto-refunded ones until their deadline."""
    share = SHAPE["auto_refund_share"]
    captured = hours_before_capture
    if captured is None:
        captured = SHAPE["hours_authorized_before_capture"]
    expired = hours_before_expiry
    if expired is None:
        expired = SHAPE["hours_authorized_before_expiry"]
    return (1 - share) * checks_while_open(captured) + share * checks_while_open(expired)


def _events_per_payment() -> dict[str, float]:
    return {
        "authorization": 1.0,
        "capture": 1.0 - SHAPE["auto_refund_share"],
        "refund": SHAPE["refund_share"],
        "dispute": SHAPE["dispute_share"],
    }


def recorded_share(per_second: float, reservoir: float, fixed_rate: float) -> float:
    """The share of requests arriving at ``per_second`` (Poisson) that a sampling of ``reservoir``
    a second, then ``fixed_rate`` of the rest, records: the reservoir takes E[min(N, reservoir)] of
    the N requests of a second."""
    if per_second <= 0:
        return 0.0
    term = math.exp(-per_second)  # P(N = 0)
    below = 0.0  # P(N < k)
    taken = 0.0
    for k in range(int(reservoir)):
        below += term
        taken += k * term
        term *= per_second / (k + 1)
    taken += int(reservoir) * (1.0 - below)
    return (taken + fixed_rate * (per_second - taken)) / per_second


def xray_traces(
    deployed: dict[str, float], invocations: dict[str, float], rest_requests: float, executions: float
) -> dict[str, float]:
    """Traces recorded per payment, by where they start (X-Ray bills each trace once, whatever its
    segments). A sampled request carries its decision downstream (the admin function, a workflow's
    tasks): no new trace. An Active function invoked by a queue, a stream or an HTTP API starts
    one, sampled by Lambda at its own rate; a PassThrough one is not traced. The REST stage and the
    state machines are sampled by the stack's rules (or the account's default rule, whose reservoir
    they share); an execution starts a trace only when its starter's (the change feed's) was not
    recorded: counted at the rule's share, an upper bound (a starter's unsampled header may keep it
    unrecorded). The scheduled runs of Active functions are roots too: ``fixed_per_month``."""
    rate = PAYMENTS_PER_SECOND
    traces: dict[str, float] = {}
    recorded: dict[str, float] = {}
    for name in TRACE_ROOT_FUNCTIONS:
        active = deployed[f"{FUNCTION_KEYS[name]}: xray_active"] == 1.0
        share = (
            recorded_share(invocations[name] * rate, LAMBDA_RESERVOIR_PER_SECOND, LAMBDA_FIXED_RATE)
            if active
            else 0.0
        )
        recorded[name] = share
        traces[name] = invocations[name] * share
    rest = rest_requests if deployed["xray: rest_api_traced"] == 1.0 else 0.0
    started = (
        executions * (1.0 - recorded["changes"]) if deployed["xray: state_machines_traced"] == 1.0 else 0.0
    )

    def ruled(name: str, count: float, shared_with: float) -> float:
        reservoir = deployed[f"xray: {name}_reservoir_per_second"]
        own = deployed[f"xray: {name}_own_rule"] == 1.0
        per_second = (count if own else count + shared_with) * rate
        return count * recorded_share(per_second, reservoir, deployed[f"xray: {name}_fixed_rate"])

    traces["rest_api"] = ruled("rest_api", rest, started)
    traces["state_machines"] = ruled("state_machines", started, rest)
    return traces


def _units(size_bytes: float) -> int:
    """Request units of one write of an item this size (1 KB each, at least one)."""
    return max(1, math.ceil(size_bytes / KB))


def dynamodb_costs(
    wru: float, rru: float, gsi_wru: float, stored_gb_months: float, *, infrequent_access: bool
) -> dict[str, float]:
    """The table's requests, index writes (inside the requests) and storage in USD at one table
    class's prices (the indexes take the table's class)."""
    suffix = "_ia" if infrequent_access else ""
    return {
        "dynamodb_requests": wru * PRICES[f"dynamodb_wru{suffix}"] + rru * PRICES[f"dynamodb_rru{suffix}"],
        "dynamodb_gsi_writes": gsi_wru * PRICES[f"dynamodb_wru{suffix}"],
        "dynamodb_storage": stored_gb_months * PRICES[f"dynamodb_gb_month{suffix}"],
    }


def table_classes(figures: dict[str, float]) -> dict[str, float]:
    """The table at this shape in both classes (USD per 1M payments) and the break-even: Standard-IA
    is cheaper once Standard's storage cost exceeds this share of Standard's request cost."""
    usage = (
        figures["_wru_per_payment"],
        figures["_rru_per_payment"],
        figures["_gsi_wru_per_payment"],
        figures["_stored_kb_months_per_payment"] / KB**2,
    )
    standard = dynamodb_costs(*usage, infrequent_access=False)
    infrequent = dynamodb_costs(*usage, infrequent_access=True)
    request_rise = PRICES["dynamodb_wru_ia"] / PRICES["dynamodb_wru"] - 1
    storage_cut = 1 - PRICES["dynamodb_gb_month_ia"] / PRICES["dynamodb_gb_month"]
    return {
        "standard": (standard["dynamodb_requests"] + standard["dynamodb_storage"]) * 1_000_000,
        "standard_ia": (infrequent["dynamodb_requests"] + infrequent["dynamodb_storage"]) * 1_000_000,
        "storage_share_now": standard["dynamodb_storage"] / standard["dynamodb_requests"],
        "storage_share_break_even": request_rise / storage_cut,
    }


def per_million(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """USD per 1M payments by service (a month's traffic of 1M payments at steady state)."""
    web = results["webhooks"]
    flows = results["workflows"]
    deployed = results["deployed"]
    events = _events_per_payment()
    webhooks = sum(events.values())

    def each(figure: str) -> float:
        return sum(events[k] * web.get(f"{k}: {figure}", 0.0) for k in KINDS)

    def raw_event_bytes(kind: str) -> float:
        return web[f"{kind}: stored_raw_bytes"] / max(web[f"{kind}: stored_raw_items"], 1.0)

    # DynamoDB request units, from the measured item sizes: the writes of the webhook and the
    # processor outside their transactions are on the raw event (the put at its size when accepted,
    # the outcome at its final size: an update bills the larger of the item before and after), a
    # duplicate's failed conditional put at the stored event's size (a provider retries after its
    # back-off, once the event is processed: the put alone, ``aws_calls_per_duplicate_webhook``;
    # one arriving while the event is in flight is also re-sent); the transactions as
    # measured: 2 WRU per KB of each item they wrote or checked, at its larger size before or after;
    # the indexes' writes as measured for each event's change of the payment (projection ALL: the
    # whole item, a moved entry deleted and put)
    raw_wru = sum(
        events[k]
        * (
            _units(web[f"{k}: raw_event_bytes_accepted"]) * web[f"{k}: dynamodb_writes_webhook"]
            + _units(raw_event_bytes(k)) * web[f"{k}: dynamodb_writes_processor"]
        )
        for k in KINDS
    )
    raw_wru += SHAPE["duplicate_webhooks_per_payment"] * _units(
        web["authorization: raw_event_bytes_accepted"]
    )
    janitor_checks = janitor_checks_per_payment()
    gsi_wru = each("index_write_units")  # a janitor check writes nothing (its schedule is the anchor's)
    transaction_wru = each("transact_wru_processor") + each("transact_wru_listeners")
    wru = raw_wru + each("dynamodb_writes_listeners") + transaction_wru + gsi_wru
    marker_reads = events["capture"] * SHAPE["marker_reads_per_capture"]  # not in the warm bench
    rru = (
        each("dynamodb_reads_processor")
        + each("dynamodb_reads_listeners")
        + janitor_checks  # one strongly consistent GetItem per check (the scheduler's reads are fixed)
        + marker_reads * EVENTUALLY_CONSISTENT_RRU
    )
    # as deployed, the capture's change stops a captured payment's waiting execution
    captured_t = flows.get(
        "sfn_transitions_per_payment_stopped", flows["sfn_transitions_per_payment_captured"]
    )
    share = SHAPE["auto_refund_share"]
    transitions = (1 - share) * captured_t + share * flows["sfn_transitions_per_payment_auto_refund"]
    # one task per wake-up (Wait → Task → Choice): about a third of the states entered
    task_invocations = transitions / 3
    # the janitor's queue: the scheduler packs PAYMENTS_PER_MESSAGE due payments in a message and
    # sends SQS_BATCH messages per SendMessageBatch; the worker's event source mapping receives its
    # batch (event_batch_size messages, from the template) and deletes it once the invocation
    # succeeds, one invocation per batch. As deployed (10, 10, 1) at 48 h authorized: 7.25 checks →
    # 0.725 messages per payment → 0.0725 sends + 0.725 receives + 0.725 deletes = 1.52 requests,
    # 0.725 invocations of about 0.9 s at 256 MB (``janitor_message_seconds``)
    janitor_messages = janitor_checks / PAYMENTS_PER_MESSAGE
    janitor_batch = deployed[f"{FUNCTION_KEYS['janitor']}: event_batch_size"]
    janitor_sqs = janitor_messages / SQS_BATCH + 2 * janitor_messages / janitor_batch
    invocations = {
        "webhook": webhooks + SHAPE["duplicate_webhooks_per_payment"],
        "processor": webhooks,
        "changes": each("invocations_changes") + SHAPE["admin_calls_per_payment"],
        "admin": SHAPE["admin_calls_per_payment"],
        "tasks": task_invocations,
        "janitor": janitor_messages / janitor_batch,
    }

    def memory_mb(name: str) -> float:
        return deployed[f"{FUNCTION_KEYS[name]}: memory_mb"]

    def measured_seconds(name: str, calls: str) -> float:
        """CPU measured here, stretched by the function's share of a vCPU (Lambda gives one at
        1,769 MB, in proportion below), plus a round trip per AWS call measured."""
        share = min(1.0, memory_mb(name) / FULL_VCPU_MB)
        per_invocation = each(f"invocations_{name}")
        cpu = each(f"cpu_seconds_{name}") / per_invocation
        return cpu / share + each(f"aws_calls_{calls}") / per_invocation * SHAPE["aws_call_seconds"]

    seconds = {
        "webhook": measured_seconds("webhook", "webhook"),
        "processor": measured_seconds("processor", "processor"),
        "changes": measured_seconds("changes", "listeners"),
        "admin": SHAPE["admin_seconds"],
        "tasks": SHAPE["task_seconds"],
        "janitor": janitor_message_seconds(memory_mb("janitor")) * janitor_batch,
    }
    seconds["processor"] += marker_reads / invocations["processor"] * SHAPE["aws_call_seconds"]

    def gb_second_price(name: str) -> float:
        arm = deployed[f"{FUNCTION_KEYS[name]}: arm64"] == 1.0
        return PRICES["lambda_gb_second_arm" if arm else "lambda_gb_second"]

    lambda_compute = sum(
        invocations[k] * seconds[k] * memory_mb(k) / 1024 * gb_second_price(k) for k in invocations
    )
    # send + receive + delete per message; the janitor's as above
    sqs = webhooks * 3 + 3 * each("sqs_calls_listeners") + janitor_sqs

    # storage: what each event kind left in the table (measured), for as long as it is kept
    def stored(figure: str, count: str) -> float:
        return max(0.0, each(figure) + each(count) * ITEM_OVERHEAD_BYTES)

    raw_bytes = stored("stored_raw_bytes", "stored_raw_items")
    kept_bytes = stored("stored_kept_bytes", "stored_kept_items")
    index_bytes = stored("stored_index_bytes", "stored_index_entries")
    stored_gb = (
        raw_bytes * SHAPE["raw_event_retention_months"] + (kept_bytes + index_bytes) * SHAPE["stored_months"]
    ) / KB**3

    # logs: the measured lines of each invocation, Lambda's own lines and the per-event overhead
    logged = {
        name: (each(f"log_bytes_{name}"), each(f"log_events_{name}"), each(f"invocations_{name}"))
        for name in LOGGED
    }
    mean_bytes = sum(b for b, _, _ in logged.values()) / sum(n for _, _, n in logged.values())
    mean_events = sum(e for _, e, _ in logged.values()) / sum(n for _, _, n in logged.values())
    log_cost = 0.0
    log_gb = 0.0
    for name, count in invocations.items():
        key = FUNCTION_KEYS[name]
        measured_bytes, measured_events, measured_n = logged.get(name, (0.0, 0.0, 0.0))
        app_bytes = measured_bytes / measured_n if measured_n else mean_bytes
        app_events = measured_events / measured_n if measured_n else mean_events
        platform = lambda_platform_lines(
            int(memory_mb(name)),
            json_format=deployed[f"{key}: log_json"] == 1.0,
            system_level=deployed[f"{key}: system_log_level"],
        )
        per_invocation = (
            app_bytes
            + app_events * LOG_EVENT_OVERHEAD_BYTES
            + sum(len(line.encode()) + LOG_EVENT_OVERHEAD_BYTES for line in platform)
        )
        gb = count * per_invocation / KB**3
        infrequent = deployed[f"{key}: log_infrequent_access"] == 1.0
        months = deployed[f"{key}: log_retention_days"] / 30
        log_gb += gb
        log_cost += gb * (
            PRICES["logs_ingested_gb_ia" if infrequent else "logs_ingested_gb"]
            + PRICES["logs_stored_gb_month"] * months
        )
    # the webhooks arrive where providers are registered: the HTTP API when the stack has its route
    webhook_api = "http" if deployed["webhooks: http_api"] == 1.0 else "rest"
    # and the admin calls where the platform calls: the admin HTTP API when the stack has its route
    admin_api = "http" if deployed["admin: http_api"] == 1.0 else "rest"
    # a REST request's trace is the stage's (sampled by its rule): the webhooks and the admin calls
    # that arrive there; at an HTTP API (no X-Ray) the function is invoked without a trace header
    at_rest = [name for name, api in (("webhook", webhook_api), ("admin", admin_api)) if api == "rest"]
    rest_requests = sum(invocations[name] for name in at_rest)
    traced_invocations = {**invocations, **dict.fromkeys(at_rest, 0.0)}
    traces = xray_traces(deployed, traced_invocations, rest_requests, executions=events["authorization"])
    costs = {
        "lambda": sum(invocations.values()) * PRICES["lambda_request"] + lambda_compute,
        "api_gateway": invocations["webhook"] * PRICES[f"apigw_{webhook_api}_request"]
        + SHAPE["admin_calls_per_payment"] * PRICES[f"apigw_{admin_api}_request"],
        **dynamodb_costs(
            wru, rru, gsi_wru, stored_gb, infrequent_access=deployed["table: standard_ia"] == 1.0
        ),
        "step_functions": transitions * PRICES["sfn_transition"],
        "sqs": sqs * PRICES["sqs_request"],
        "cloudwatch_logs": log_cost,
        "x_ray": sum(traces.values()) * PRICES["xray_trace_recorded"],
    }
    million = {service: cost * 1_000_000 for service, cost in costs.items()}
    # the GSI writes are inside dynamodb_requests' WRU: shown apart, not added twice
    million["total"] = sum(v for k, v in million.items() if k != "dynamodb_gsi_writes")
    million["_wru_per_payment"] = wru
    million["_gsi_wru_per_payment"] = gsi_wru
    million["_rru_per_payment"] = rru
    million["_stored_kb_months_per_payment"] = stored_gb * KB**2
    million["_transaction_wru_per_payment"] = transaction_wru
    million["_transitions_per_payment"] = transitions
    million["_lambda_invocations_per_payment"] = sum(invocations.values())
    million["_lambda_gb_seconds_per_payment"] = sum(
        invocations[k] * seconds[k] * memory_mb(k) / 1024 for k in invocations
    )
    for name in LOGGED:
        million[f"_{name}_seconds_per_invocation"] = seconds[name]
    million["_log_kb_per_payment"] = log_gb * KB**2
    million["_stored_kb_per_payment"] = (raw_bytes + kept_bytes + index_bytes) / KB
    million["_xray_traces_per_payment"] = sum(traces.values())
    for root, count in traces.items():
        million[f"_xray_traces_{root}_per_payment"] = count
    million["_janitor_provider_calls_per_payment"] = (
        janitor_checks * SHAPE["janitor_provider_calls_per_check"]
    )
    million["_janitor_sqs_requests_per_payment"] = janitor_sqs
    return million


def fixed_per_month(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """USD per month whatever the traffic: not in ``per_million``'s total (the janitor's scheduler
    runs, the SQS triggers' empty receives, the alarms, dashboards and secrets the template holds)."""
    from cardops.resources import JANITOR_PERIOD_MINUTES

    deployed = results["deployed"]
    runs = MONTH_MINUTES / JANITOR_PERIOD_MINUTES
    # a run at steady state: the checkpoint read, claimed and finished, and its Query calls (each
    # shard's oldest anchor, one range per offset; ``scheduler_queries_per_run``): its AWS calls'
    # round trips are its duration. A Query bills at least half a read unit (eventually consistent)
    queries = scheduler_queries_per_run()
    calls = 3 + queries
    arm = deployed["janitor: arm64"] == 1.0
    gb_seconds = runs * calls * SHAPE["aws_call_seconds"] * deployed["janitor: memory_mb"] / 1024
    suffix = "_ia" if deployed["table: standard_ia"] == 1.0 else ""
    read_units = runs * (1 + queries * EVENTUALLY_CONSISTENT_RRU)
    write_units = runs * 2
    polls = MONTH_MINUTES * 60 / FIXED["sqs_long_poll_seconds"] * FIXED["sqs_pollers_per_trigger"]
    return {
        "janitor_scheduler": runs * PRICES["lambda_request"]
        + gb_seconds * PRICES["lambda_gb_second_arm" if arm else "lambda_gb_second"]
        + write_units * PRICES[f"dynamodb_wru{suffix}"]
        + read_units * PRICES[f"dynamodb_rru{suffix}"],
        "sqs_trigger_polls": deployed["stack: sqs_event_sources"] * polls * PRICES["sqs_request"],
        "alarms": deployed["stack: alarms"] * PRICES["alarm_month"]
        + deployed["stack: composite_alarms"] * PRICES["composite_alarm_month"],
        "dashboards": deployed["stack: dashboards"] * PRICES["dashboard_month"],
        "secrets": deployed["stack: secrets"] * PRICES["secret_month"],
        # each run of an Active scheduled function starts a trace (Lambda's 1/s records nearly all)
        "x_ray_scheduled_runs": deployed["xray: scheduled_active_runs_per_month"]
        * recorded_share(
            deployed["xray: scheduled_active_runs_per_month"] / (MONTH_MINUTES * 60),
            LAMBDA_RESERVOIR_PER_SECOND,
            LAMBDA_FIXED_RATE,
        )
        * PRICES["xray_trace_recorded"],
    }


def report(results: dict[str, dict[str, float]]) -> list[str]:
    if not {"webhooks", "workflows", "deployed"} <= results.keys():
        return [
            "## Cost model",
            "",
            "(needs the deployed, webhooks and workflows benchmarks of the same run)",
            "",
        ]
    figures = per_million(results)
    lines = [
        "## Cost per 1M payments (a month's traffic at steady state)",
        "",
        "Counts and sizes measured above (AWS calls, log bytes and stored bytes per event type; Step",
        "Functions transitions from the workflows benchmark); memory, architecture, log retention, log",
        "format and system log level per function and the table's class from the synthesized template",
        "(deployed); prices for ap-northeast-1 on demand",
        "(AWS Price List usage types in tests/benchmarks/cost_model.py; free tier ignored); assumptions:",
        f"{', '.join(f'{k}={v}' for k, v in SHAPE.items())}; webhook requests at the "
        + (
            "HTTP API price (1.29 USD per million, WebhookApiUrl, where providers are registered)"
            if results["deployed"]["webhooks: http_api"] == 1.0
            else "REST API price (4.25 USD per million)"
        )
        + ", admin requests at the "
        + (
            "HTTP API price (AdminApiUrl, where the platform calls)"
            if results["deployed"]["admin: http_api"] == 1.0
            else "REST API price"
        )
        + ".",
        f"X-Ray: the month's traffic spread evenly ({PAYMENTS_PER_SECOND:.3f} payments a second, Poisson"
        " arrivals); an Active function invoked by a queue, a stream or an HTTP API is sampled by"
        " Lambda (1 a second per function, then 5%); the REST stage and the state machines by the"
        " stack's rules (each rule's reservoir shared by what it matches) or, without them, by the"
        " account's default rule (1 a second shared by both, then 5%); a sampled request's downstream"
        " calls add no trace; an execution counts as a trace root unless its starter's trace was"
        " recorded (an upper bound).",
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
    classes = table_classes(figures)
    deployed = "Standard-IA" if results["deployed"]["table: standard_ia"] == 1.0 else "Standard"
    lines += [
        "",
        f"The table (deployed: {deployed}) at this shape, requests and storage: Standard "
        f"{classes['standard']:,.2f}, Standard-IA {classes['standard_ia']:,.2f} USD per 1M payments.",
        f"Standard's storage is {classes['storage_share_now']:.2f}× its request cost; Standard-IA is "
        f"cheaper above {classes['storage_share_break_even']:.2f}×.",
    ]
    fixed = fixed_per_month(results)
    lines += [
        "",
        "Fixed per month, whatever the traffic (not in the total above): "
        + ", ".join(f"{name} {cost:,.2f}" for name, cost in fixed.items())
        + f"; {sum(fixed.values()):,.2f} USD per month.",
    ]
    lines += ["", "| count per payment | value |", "| --- | ---: |"]
    lines += [f"| {k.lstrip('_')} | {v:,.3f} |" for k, v in figures.items() if k.startswith("_")]
    lines.append("")
    return lines
