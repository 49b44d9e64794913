"""The cost model adds what it says it adds (``make bench`` prints it; this checks the arithmetic)
and prices Lambda and its logs from what the template deploys, not from typed-in constants."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from tests.benchmarks import bench_deployed, cost_model, footprint


def _template(
    memory_mb: int = 512,
    architecture: str = "arm64",
    retention_days: int = 30,
    logging: dict[str, str] | None = None,
    table_class: str | None = None,
    webhook_route: str | None = None,
    admin_route: str | None = None,
    janitor_batch_size: int = 1,
    tracing: str | None = None,
    sampling: tuple[float, int] | None = None,
) -> dict[str, Any]:
    """A synthesized template's shape: each function with its memory, architecture, log group and
    (``logging``) advanced logging controls; the table with its class; an HTTP API route; with
    ``tracing``, each function's X-Ray mode, a traced REST stage and state machine and (``sampling``,
    fixed rate and reservoir) the stack's rules for them."""
    table = {"TableClass": table_class} if table_class else {}
    resources: dict[str, Any] = {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": table}}
    for key in {*cost_model.FUNCTION_KEYS.values(), "feed_sync", "janitor"}:
        resources[f"{key}Logs"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"RetentionInDays": retention_days},
        }
        resources[f"{key}Function"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "MemorySize": memory_mb,
                "Architectures": [architecture],
                "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": f"cardops-{key}"}},
                "LoggingConfig": {"LogGroup": {"Ref": f"{key}Logs"}, **(logging or {})},
                **({"TracingConfig": {"Mode": tracing}} if tracing else {}),
            },
        }
    resources["CdkHelper"] = {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 128}}
    resources["JanitorWorkerTrigger"] = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {"FunctionName": {"Ref": "janitor_workerFunction"}, "BatchSize": janitor_batch_size},
    }
    for name, route in (("Route", webhook_route), ("AdminRoute", admin_route)):
        if route:
            resources[name] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": {"RouteKey": route}}
    if tracing:
        resources["Stage"] = {"Type": "AWS::ApiGateway::Stage", "Properties": {"TracingEnabled": True}}
        resources["Machine"] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"TracingConfiguration": {"Enabled": True}},
        }
    for service_type in ("AWS::ApiGateway::Stage", "AWS::StepFunctions::StateMachine") if sampling else ():
        assert sampling is not None
        resources[f"Rule{service_type.split('::')[1]}"] = {
            "Type": "AWS::XRay::SamplingRule",
            "Properties": {
                "SamplingRule": {
                    "ServiceType": service_type,
                    "FixedRate": sampling[0],
                    "ReservoirSize": sampling[1],
                }
            },
        }
    return {"Resources": resources}


def _results(captured: float, auto_refund: float) -> dict[str, dict[str, float]]:
    webhooks: dict[str, float] = {}
    for kind in cost_model.KINDS:
        webhooks |= {
            f"{kind}: dynamodb_reads_processor": 1.0,
            f"{kind}: dynamodb_writes_processor": 1.0,
            f"{kind}: dynamodb_transacts_processor": 1.0,
            f"{kind}: dynamodb_reads_listeners": 0.0,
            f"{kind}: dynamodb_writes_listeners": 0.0,
            f"{kind}: dynamodb_transacts_listeners": 0.0,
            f"{kind}: transact_wru_processor": 4.0,
            f"{kind}: transact_wru_listeners": 0.0,
            f"{kind}: sqs_calls_listeners": 0.0,
            f"{kind}: log_bytes_webhook": 600.0,
            f"{kind}: log_events_webhook": 2.0,
            f"{kind}: invocations_webhook": 1.0,
            f"{kind}: log_bytes_processor": 700.0,
            f"{kind}: log_events_processor": 2.0,
            f"{kind}: invocations_processor": 1.0,
            f"{kind}: log_bytes_changes": 200.0,
            f"{kind}: log_events_changes": 1.0,
            f"{kind}: invocations_changes": 1.0,
            f"{kind}: stored_raw_items": 1.0,
            f"{kind}: stored_raw_bytes": 2300.0,
            f"{kind}: stored_kept_items": 2.0,
            f"{kind}: stored_kept_bytes": 1500.0,
            f"{kind}: stored_index_entries": 1.0,
            f"{kind}: stored_index_bytes": 1000.0,
            f"{kind}: payment_item_bytes": 1000.0,
            f"{kind}: index_write_units": 2.0,
            f"{kind}: raw_event_bytes_accepted": 2000.0,
            f"{kind}: cpu_seconds_webhook": 0.01,
            f"{kind}: cpu_seconds_processor": 0.03,
            f"{kind}: cpu_seconds_changes": 0.02,
            f"{kind}: aws_calls_webhook": 3.0,
            f"{kind}: aws_calls_processor": 3.0,
            f"{kind}: aws_calls_listeners": 2.0,
            f"{kind}: dynamodb_writes_webhook": 2.0,
        }
    workflows = {
        "sfn_transitions_per_payment_captured": captured,
        "sfn_transitions_per_payment_auto_refund": auto_refund,
    }
    return {"webhooks": webhooks, "workflows": workflows, "deployed": bench_deployed.figures(_template())}


def test_step_functions_cost_is_the_workflow_benchmarks_transitions_at_their_price() -> None:
    share = cost_model.SHAPE["auto_refund_share"]
    figures = cost_model.per_million(_results(captured=2.0, auto_refund=10.0))
    transitions = (1 - share) * 2.0 + share * 10.0
    assert figures["_transitions_per_payment"] == pytest.approx(transitions)
    assert figures["step_functions"] == pytest.approx(transitions * 0.025 / 1000 * 1_000_000)


def test_the_total_counts_gsi_writes_once() -> None:
    figures = cost_model.per_million(_results(captured=3.0, auto_refund=17.0))
    services = {k: v for k, v in figures.items() if not k.startswith("_") and k != "total"}
    assert figures["total"] == pytest.approx(sum(services.values()) - services["dynamodb_gsi_writes"])
    assert 0 < services["dynamodb_gsi_writes"] < services["dynamodb_requests"]


def test_more_listener_writes_cost_more() -> None:
    base = _results(captured=3.0, auto_refund=17.0)
    more = _results(captured=3.0, auto_refund=17.0)
    more["webhooks"]["refund: dynamodb_writes_listeners"] = 2.0
    assert (
        cost_model.per_million(more)["dynamodb_requests"] > cost_model.per_million(base)["dynamodb_requests"]
    )


def test_transactions_cost_the_write_units_measured_for_their_items() -> None:
    """A transaction bills 2 WRU per KB of each item: the model takes the bench's measured units (a
    refund's listeners write 5 items in two transactions, one over 1 KB), not a typed-in item count,
    so every measured unit moves the write units per payment by its event's share."""
    base = _results(captured=3.0, auto_refund=17.0)
    more = copy.deepcopy(base)
    more["webhooks"]["refund: transact_wru_listeners"] = 16.0
    more["webhooks"]["capture: transact_wru_processor"] = 6.0
    events = {
        "capture": 1 - cost_model.SHAPE["auto_refund_share"],
        "refund": cost_model.SHAPE["refund_share"],
    }
    added = events["refund"] * 16.0 + events["capture"] * 2.0
    assert cost_model.per_million(more)["_wru_per_payment"] == pytest.approx(
        cost_model.per_million(base)["_wru_per_payment"] + added
    )
    assert cost_model.per_million(more)["_transaction_wru_per_payment"] == pytest.approx(
        cost_model.per_million(base)["_transaction_wru_per_payment"] + added
    )
    assert "transaction_items" not in cost_model.SHAPE


def test_a_capture_pays_for_its_store_marker_read_as_if_no_container_were_warm() -> None:
    """The bench's warm processor skips the read; the model adds half a read unit per capture and
    its round trip to the processor, so a cold fleet is not priced as if it were free."""
    results = _results(captured=3.0, auto_refund=17.0)
    with_read = cost_model.per_million(results)
    shape = cost_model.SHAPE | {"marker_reads_per_capture": 0.0}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cost_model, "SHAPE", shape)
        without = cost_model.per_million(results)
    captures = 1 - cost_model.SHAPE["auto_refund_share"]
    assert with_read["_rru_per_payment"] == pytest.approx(without["_rru_per_payment"] + captures * 0.5)
    # the processor's invocations: one per webhook of a payment (authorization, capture, refund, dispute)
    webhooks = 1.0 + captures + cost_model.SHAPE["refund_share"] + cost_model.SHAPE["dispute_share"]
    assert with_read["_processor_seconds_per_invocation"] == pytest.approx(
        without["_processor_seconds_per_invocation"]
        + captures / webhooks * cost_model.SHAPE["aws_call_seconds"]
    )


def test_the_report_shows_each_goal_beside_its_figure() -> None:
    lines = cost_model.report(_results(captured=3.0, auto_refund=17.0))
    assert any(line.startswith("| total |") and line.endswith("| ≤ 100 |") for line in lines)
    assert any(line.startswith("| step_functions |") and line.endswith("| ≤ 40 |") for line in lines)


def test_lambda_is_priced_from_the_templates_memory_and_architecture() -> None:
    """GB-seconds grow with the template's memory (below one vCPU the measured CPU time shrinks as
    the memory grows, the calls' waits do not: linear, not proportional); x86_64 costs the x86
    price. A model with memory or architecture typed in would not move."""
    results = _results(captured=3.0, auto_refund=17.0)

    def priced(**template: Any) -> dict[str, float]:
        return cost_model.per_million(results | {"deployed": bench_deployed.figures(_template(**template))})

    gb_seconds = [priced(memory_mb=m)["_lambda_gb_seconds_per_payment"] for m in (512, 1024, 1536)]
    assert gb_seconds[1] - gb_seconds[0] == pytest.approx(gb_seconds[2] - gb_seconds[1])
    assert gb_seconds[1] > gb_seconds[0]
    arm, x86 = priced(), priced(architecture="x86_64")
    requests = arm["_lambda_invocations_per_payment"] * 0.20
    ratio = cost_model.PRICES["lambda_gb_second"] / cost_model.PRICES["lambda_gb_second_arm"]
    assert x86["lambda"] - requests == pytest.approx(ratio * (arm["lambda"] - requests))


def test_measured_cpu_is_stretched_by_the_functions_share_of_a_vcpu() -> None:
    results = _results(captured=3.0, auto_refund=17.0)
    figures = cost_model.per_million(results)  # 512 MB
    calls = 3.0 * cost_model.SHAPE["aws_call_seconds"]
    assert figures["_webhook_seconds_per_invocation"] == pytest.approx(0.01 * 1769 / 512 + calls)


def test_log_retention_and_class_come_from_the_template() -> None:
    results = _results(captured=3.0, auto_refund=17.0)
    month = cost_model.per_million(results)["cloudwatch_logs"]
    year = cost_model.per_million(
        results | {"deployed": bench_deployed.figures(_template(retention_days=360))}
    )["cloudwatch_logs"]
    assert year > month
    infrequent = copy.deepcopy(_template())
    for resource in infrequent["Resources"].values():
        if resource["Type"] == "AWS::Logs::LogGroup":
            resource["Properties"]["LogGroupClass"] = "INFREQUENT_ACCESS"
    assert (
        cost_model.per_million(results | {"deployed": bench_deployed.figures(infrequent)})["cloudwatch_logs"]
        < month
    )


def test_the_deployed_figures_skip_cdk_helpers_and_read_every_function() -> None:
    figures = bench_deployed.figures(_template(memory_mb=256, architecture="x86_64"))
    assert figures["webhook: memory_mb"] == 256.0
    assert figures["webhook: arm64"] == 0.0
    assert figures["feed_sync: log_retention_days"] == 30.0
    assert not any(key.startswith("CdkHelper") for key in figures)


def test_bigger_raw_events_cost_more_write_units() -> None:
    """A raw event over 1 KB bills a write unit per KB on its put and on its mark."""
    small = _results(captured=3.0, auto_refund=17.0)
    big = copy.deepcopy(small)
    for kind in cost_model.KINDS:
        small["webhooks"][f"{kind}: stored_raw_bytes"] = 900.0
        small["webhooks"][f"{kind}: raw_event_bytes_accepted"] = 800.0
    assert cost_model.per_million(big)["_wru_per_payment"] > cost_model.per_million(small)["_wru_per_payment"]


def test_index_writes_follow_the_items_keys() -> None:
    """Rewritten in place: one write; moved (its sort key changed): delete and put; dropped: delete."""
    small = {"pk": "p", "sk": "s", "gsi1pk": "a", "gsi1sk": "1"}
    moved = small | {"gsi1sk": "2"}
    big = small | {"doc": "x" * 1500}
    indexes = [("gsi1pk", "gsi1sk", "ALL"), ("gsi2pk", "gsi2sk", "ALL")]
    assert footprint.index_write_units(None, small, indexes) == 1.0
    assert footprint.index_write_units(small, small | {"v": 2}, indexes) == 1.0
    assert footprint.index_write_units(small, moved, indexes) == 2.0
    assert footprint.index_write_units(small, {"pk": "p", "sk": "s"}, indexes) == 1.0
    assert footprint.index_write_units(small, big, indexes) == 2.0  # 1.5 KB: two units


def test_a_keys_only_index_stores_and_writes_the_keys() -> None:
    """A keys-only entry of a 1.5 KB item is one unit and its size is the four keys; a change of an
    attribute it does not store writes nothing to it; a moved key deletes and puts."""
    item = {"pk": "p", "sk": "s", "gsi3pk": "a", "gsi3sk": "1", "doc": "x" * 1500}
    keys_only = [("gsi3pk", "gsi3sk", "KEYS_ONLY")]
    entry = footprint.index_entry(item, keys_only[0])
    assert entry == {"pk": "p", "sk": "s", "gsi3pk": "a", "gsi3sk": "1"}
    assert footprint.index_entry({"pk": "p", "sk": "s"}, keys_only[0]) is None
    assert footprint.index_write_units(None, item, keys_only) == 1.0
    assert footprint.index_write_units(item, item | {"doc": "y"}, keys_only) == 0.0
    assert footprint.index_write_units(item, item | {"gsi3sk": "2"}, keys_only) == 2.0
    assert footprint.index_write_units(None, item, [("gsi3pk", "gsi3sk", "ALL")]) == 2.0


def test_the_benchmarks_take_each_indexs_projection_from_the_table_spec() -> None:
    """The projections the stack and the sandbox create are the ones the footprint measures with."""
    from cardops import resources

    indexes = footprint.table_indexes()
    assert [projection for _, _, projection in indexes] == [
        resources.TABLE.projections[name] for name in resources.TABLE.indexes
    ]
    assert ("gsi3pk", "gsi3sk", "KEYS_ONLY") in indexes


def test_lambdas_own_log_lines_follow_the_templates_log_format_and_system_level() -> None:
    """Text format (no advanced logging controls): START/END/REPORT/XRAY on every invocation; JSON
    at INFO: the start and report records; JSON at WARN: none of them. A model with the platform
    lines typed in would price all three the same."""
    results = _results(captured=3.0, auto_refund=17.0)

    def logs(logging: dict[str, str] | None) -> tuple[float, dict[str, float]]:
        deployed = bench_deployed.figures(_template(logging=logging))
        return cost_model.per_million(results | {"deployed": deployed})["cloudwatch_logs"], deployed

    text, text_deployed = logs(None)
    info, _ = logs({"LogFormat": "JSON", "SystemLogLevel": "INFO", "ApplicationLogLevel": "INFO"})
    warn, warn_deployed = logs({"LogFormat": "JSON", "SystemLogLevel": "WARN", "ApplicationLogLevel": "INFO"})
    assert (text_deployed["webhook: system_log_level"], text_deployed["webhook: log_json"]) == (20.0, 0.0)
    assert (warn_deployed["webhook: system_log_level"], warn_deployed["webhook: log_json"]) == (30.0, 1.0)
    assert warn < min(info, text)
    invocations = cost_model.per_million(results)["_lambda_invocations_per_payment"]
    platform = sum(
        len(line.encode()) + footprint.LOG_EVENT_OVERHEAD_BYTES
        for line in footprint.lambda_platform_lines(512)
    )
    price = cost_model.PRICES["logs_ingested_gb"] + cost_model.PRICES["logs_stored_gb_month"] * 30 / 30
    assert text - warn == pytest.approx(invocations * platform / 1024**3 * price * 1_000_000)


def test_the_table_is_priced_at_the_templates_table_class() -> None:
    """Standard-IA: storage at its lower price, every request unit (the index writes too) at its
    higher one; the report shows both classes and the break-even. A model with the class typed in
    would price both templates the same."""
    results = _results(captured=3.0, auto_refund=17.0)
    standard = cost_model.per_million(results)
    infrequent_deployed = bench_deployed.figures(_template(table_class="STANDARD_INFREQUENT_ACCESS"))
    infrequent = cost_model.per_million(results | {"deployed": infrequent_deployed})
    assert bench_deployed.figures(_template())["table: standard_ia"] == 0.0
    assert infrequent_deployed["table: standard_ia"] == 1.0
    prices = cost_model.PRICES
    assert infrequent["dynamodb_storage"] == pytest.approx(
        standard["dynamodb_storage"] * prices["dynamodb_gb_month_ia"] / prices["dynamodb_gb_month"]
    )
    assert infrequent["dynamodb_gsi_writes"] == pytest.approx(
        standard["dynamodb_gsi_writes"] * prices["dynamodb_wru_ia"] / prices["dynamodb_wru"]
    )
    assert infrequent["dynamodb_requests"] > standard["dynamodb_requests"]
    assert infrequent["dynamodb_storage"] < standard["dynamodb_storage"]
    classes = cost_model.table_classes(standard)
    assert classes["standard"] == pytest.approx(standard["dynamodb_requests"] + standard["dynamodb_storage"])
    assert classes["standard_ia"] == pytest.approx(
        infrequent["dynamodb_requests"] + infrequent["dynamodb_storage"]
    )
    cheaper = classes["standard_ia"] < classes["standard"]
    assert cheaper == (classes["storage_share_now"] > classes["storage_share_break_even"])
    report = "\n".join(cost_model.report(results | {"deployed": infrequent_deployed}))
    assert "deployed: Standard-IA" in report


def test_the_deployed_figures_refuse_a_second_table() -> None:
    template = _template()
    template["Resources"]["Other"] = {"Type": "AWS::DynamoDB::Table", "Properties": {}}
    with pytest.raises(ValueError, match="one table"):
        bench_deployed.figures(template)


def test_webhook_requests_are_priced_at_the_api_the_template_serves_them_on() -> None:
    """With the webhook route on an HTTP API, webhook requests cost the HTTP API price and the admin
    requests still the REST price; the assumptions line says which. Typed in, both would match."""
    results = _results(captured=3.0, auto_refund=17.0)
    http_deployed = bench_deployed.figures(_template(webhook_route="POST /webhooks/{provider}"))
    assert http_deployed["webhooks: http_api"] == 1.0
    assert bench_deployed.figures(_template(webhook_route="GET /other"))["webhooks: http_api"] == 0.0
    rest = cost_model.per_million(results)
    http = cost_model.per_million(results | {"deployed": http_deployed})
    prices = cost_model.PRICES
    admin = cost_model.SHAPE["admin_calls_per_payment"] * prices["apigw_rest_request"] * 1_000_000
    assert (http["api_gateway"] - admin) / (rest["api_gateway"] - admin) == pytest.approx(
        prices["apigw_http_request"] / prices["apigw_rest_request"]
    )
    assert "HTTP API price" in "\n".join(cost_model.report(results | {"deployed": http_deployed}))
    assert "REST API price (4.25" in "\n".join(cost_model.report(results))


def test_a_reservoir_records_most_requests_below_its_rate_and_the_fixed_rate_the_rest() -> None:
    share = cost_model.recorded_share
    assert share(0.4, 0, 0.05) == pytest.approx(0.05)
    # Poisson arrivals at 0.4 a second: the 1/s reservoir takes the first of each second
    assert share(0.4, 1, 0.0) == pytest.approx((1 - math.exp(-0.4)) / 0.4)
    assert share(100.0, 1, 0.05) == pytest.approx((1 + 0.05 * 99) / 100, rel=1e-6)
    assert share(0.4, 2, 0.05) > share(0.4, 1, 0.05) > share(0.4, 0, 0.05)
    assert share(0.0, 1, 0.05) == 0.0


def test_x_ray_counts_the_traces_where_the_template_starts_them() -> None:
    """Every function Active under the account's default rule (what was deployed before): each
    queue-, stream- or HTTP-invoked function is a trace root sampled at 1/s, most of its invocations
    at this traffic. PassThrough with the stack's rules at 5%, no reservoir: only the rules' share
    of the REST requests and the executions (none of which a recorded starter holds)."""
    results = _results(captured=3.0, auto_refund=17.0)
    active = bench_deployed.figures(_template(tracing="Active", webhook_route="POST /webhooks/{provider}"))
    ruled = bench_deployed.figures(
        _template(tracing="PassThrough", sampling=(0.05, 0), webhook_route="POST /webhooks/{provider}")
    )
    assert active["xray: rest_api_own_rule"] == 0.0 and active["xray: rest_api_reservoir_per_second"] == 1.0
    assert ruled["xray: state_machines_fixed_rate"] == 0.05 and ruled["webhook: xray_active"] == 0.0
    before = cost_model.per_million(results | {"deployed": active})
    after = cost_model.per_million(results | {"deployed": ruled})
    price = cost_model.PRICES["xray_trace_recorded"] * 1_000_000
    rest_and_executions = cost_model.SHAPE["admin_calls_per_payment"] + 1.0
    assert after["_xray_traces_per_payment"] == pytest.approx(0.05 * rest_and_executions)
    assert after["x_ray"] == pytest.approx(0.05 * rest_and_executions * price)
    webhooks = (
        sum(cost_model._events_per_payment().values()) + cost_model.SHAPE["duplicate_webhooks_per_payment"]
    )
    sampled = cost_model.recorded_share(webhooks * cost_model.PAYMENTS_PER_SECOND, 1, 0.05)
    assert before["_xray_traces_webhook_per_payment"] == pytest.approx(webhooks * sampled)
    assert 0.5 < sampled < 0.8  # most of them: ~1 webhook a second
    assert before["x_ray"] > 10 * after["x_ray"]
    assert after["total"] == pytest.approx(sum(v for k, v in after.items() if k in _SERVICES))
    # untraced (no tracing config, no traced stage or state machine): nothing recorded
    assert cost_model.per_million(results)["x_ray"] == 0.0
    # the admin calls at the admin HTTP API (no X-Ray): no REST request to sample; in Active the
    # admin function starts its own traces instead
    admin_http = {"webhook_route": "POST /webhooks/{provider}", "admin_route": "ANY /admin/{proxy+}"}
    ruled_http = bench_deployed.figures(_template(tracing="PassThrough", sampling=(0.05, 0), **admin_http))
    active_http = bench_deployed.figures(_template(tracing="Active", **admin_http))
    assert cost_model.per_million(results | {"deployed": ruled_http})["_xray_traces_per_payment"] == (
        pytest.approx(0.05)
    )
    assert cost_model.per_million(results | {"deployed": active_http})["_xray_traces_admin_per_payment"] > 0.5
    assert before["_xray_traces_admin_per_payment"] == 0.0


_SERVICES = (
    "lambda",
    "api_gateway",
    "dynamodb_requests",
    "dynamodb_storage",
    "step_functions",
    "sqs",
    "cloudwatch_logs",
    "x_ray",
)


def test_scheduled_runs_are_counted_from_the_schedule_expression() -> None:
    assert bench_deployed.runs_per_month("rate(15 minutes)") == 2880
    assert bench_deployed.runs_per_month("rate(1 day)") == 30
    assert bench_deployed.runs_per_month("cron(0 6 ? * MON-FRI *)") == 30
    with pytest.raises(ValueError, match="no runs"):
        bench_deployed.runs_per_month("cron(*/5 * * * ? *)")


def test_admin_requests_are_priced_at_the_api_the_template_serves_them_on() -> None:
    """With the admin routes on an HTTP API (``AdminApiUrl``), the platform's admin calls cost the
    HTTP API price (≈ $2.96 less per 1M payments at one call each); the assumptions line says so."""
    results = _results(captured=3.0, auto_refund=17.0)
    webhook = "POST /webhooks/{provider}"
    rest_deployed = bench_deployed.figures(_template(webhook_route=webhook))
    http_deployed = bench_deployed.figures(
        _template(webhook_route=webhook, admin_route="ANY /admin/{proxy+}")
    )
    assert (rest_deployed["admin: http_api"], http_deployed["admin: http_api"]) == (0.0, 1.0)
    assert bench_deployed.figures(_template(admin_route="ANY /admin/other"))["admin: http_api"] == 0.0
    rest = cost_model.per_million(results | {"deployed": rest_deployed})
    http = cost_model.per_million(results | {"deployed": http_deployed})
    prices = cost_model.PRICES
    saved = cost_model.SHAPE["admin_calls_per_payment"] * (
        prices["apigw_rest_request"] - prices["apigw_http_request"]
    )
    assert rest["api_gateway"] - http["api_gateway"] == pytest.approx(saved * 1_000_000)
    assert rest["total"] - http["total"] == pytest.approx(saved * 1_000_000)
    assert "admin requests at the HTTP API price (AdminApiUrl" in "\n".join(
        cost_model.report(results | {"deployed": http_deployed})
    )
    assert "admin requests at the REST API price." in "\n".join(
        cost_model.report(results | {"deployed": rest_deployed})
    )


def test_counted_transactions_carry_each_items_billed_size(aws: None) -> None:
    """The bench's counted calls record a transaction's items at the larger of their sizes before
    and after (a shrinking update bills its old size; a condition check its item's), uncounted."""
    import boto3

    from tests.benchmarks.bench_webhooks import transaction_write_units
    from tests.helpers import counting_aws_calls

    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    big = {"pk": {"S": "a"}, "sk": {"S": "1"}, "doc": {"S": "x" * 1500}}
    ddb.put_item(TableName="t", Item=big)
    ddb.put_item(TableName="t", Item={"pk": {"S": "b"}, "sk": {"S": "1"}})
    items = [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}}},  # shrinks it
        {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "b"}, "sk": {"S": "1"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}, "n": {"N": "7"}}}},
    ]  # fmt: skip
    with counting_aws_calls(transaction_sizes=True) as counted:
        ddb.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
    assert dict(counted) == {"dynamodb:TransactWriteItems": 1}
    size = footprint.item_size
    assert counted.transactions == [
        [
            size({"pk": "a", "sk": "1", "doc": "x" * 1500}),
            size({"pk": "b", "sk": "1"}),
            size({"pk": "c", "sk": "1", "n": 7}),
        ]
    ]
    assert transaction_write_units(counted.transactions[0]) == 4.0 + 2.0 + 2.0


def test_the_janitors_queue_is_priced_per_message_as_deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each janitor check rides a queue message of ``PAYMENTS_PER_MESSAGE`` payments: sent ten
    messages per SendMessageBatch, received and deleted in the worker's event batches (batch size
    from the template), one worker invocation per batch of the same GB-seconds."""
    results = _results(captured=3.0, auto_refund=17.0)
    checks = cost_model.janitor_checks_per_payment()
    with_janitor = cost_model.per_million(results)
    # a payment captured or expired within the quiet period is never checked
    monkeypatch.setitem(cost_model.SHAPE, "hours_authorized_before_capture", 0.0)
    monkeypatch.setitem(cost_model.SHAPE, "hours_authorized_before_expiry", 0.0)
    without = cost_model.per_million(results)
    monkeypatch.undo()

    messages = checks / cost_model.PAYMENTS_PER_MESSAGE
    requests = messages / 10 + 2 * messages  # sends, then a receive and a delete per batch of one
    assert with_janitor["_janitor_sqs_requests_per_payment"] == pytest.approx(requests)
    assert with_janitor["sqs"] - without["sqs"] == pytest.approx(requests * 0.40)
    assert with_janitor["_lambda_invocations_per_payment"] - without[
        "_lambda_invocations_per_payment"
    ] == pytest.approx(messages)
    gb_seconds = messages * cost_model.janitor_message_seconds(512) * 512 / 1024
    assert with_janitor["_lambda_gb_seconds_per_payment"] - without[
        "_lambda_gb_seconds_per_payment"
    ] == pytest.approx(gb_seconds)

    batched = cost_model.per_million(
        results | {"deployed": bench_deployed.figures(_template(janitor_batch_size=5))}
    )
    assert batched["_janitor_sqs_requests_per_payment"] == pytest.approx(messages / 10 + 2 * messages / 5)


def test_fixed_monthly_costs_count_what_the_template_holds() -> None:
    """Alarms, dashboards, secrets and the SQS triggers' idle polls are billed by the month: counted
    from the template, priced apart from the per-payment total; the janitor's scheduler runs every
    period whatever the traffic."""
    template = _template()
    resources = template["Resources"]
    resources |= {f"Alarm{n}": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}} for n in range(3)}
    resources["Dashboard"] = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}}
    resources |= {f"Secret{n}": {"Type": "AWS::SecretsManager::Secret", "Properties": {}} for n in range(2)}
    resources["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    resources["JanitorWorkerTrigger"]["Properties"]["EventSourceArn"] = {"Fn::GetAtt": ["Queue", "Arn"]}
    results = _results(captured=3.0, auto_refund=17.0) | {"deployed": bench_deployed.figures(template)}

    fixed = cost_model.fixed_per_month(results)

    assert fixed["alarms"] == pytest.approx(3 * 0.10)
    assert fixed["dashboards"] == pytest.approx(3.00)
    assert fixed["secrets"] == pytest.approx(2 * 0.40)
    polls = 30 * 24 * 3600 / 20 * 5  # five pollers' 20 s long polls, all month
    assert fixed["sqs_trigger_polls"] == pytest.approx(polls * 0.40 / 1_000_000)
    assert fixed["x_ray_scheduled_runs"] == 0.0  # no schedule in this template
    resources["JanitorSchedule"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "ScheduleExpression": "rate(15 minutes)",
            "Targets": [{"Arn": {"Fn::GetAtt": ["janitorFunction", "Arn"]}}],
        },
    }
    resources["janitorFunction"]["Properties"]["TracingConfig"] = {"Mode": "Active"}
    scheduled = cost_model.fixed_per_month(results | {"deployed": bench_deployed.figures(template)})
    # a run every 15 minutes, each its own trace (Lambda's 1/s reservoir holds them all)
    assert scheduled["x_ray_scheduled_runs"] == pytest.approx(2880 * 5.00 / 1_000_000, rel=1e-3)
    assert 0 < fixed["janitor_scheduler"] < 2  # its range reads: about 7 million Query calls a month
    lines = cost_model.report(results)
    assert any(line.startswith("Fixed per month") for line in lines)
    assert "janitor_scheduler" not in cost_model.per_million(results)


def test_the_janitors_checks_follow_its_policy_for_as_long_as_a_payment_stays_authorized() -> None:
    """Not a fixed guess: the deployed policy's authorized offsets after the anchor (15 min quiet,
    doubling, 24 h cap; the anchor's mean jitter 45 s) over the hours a payment stays authorized;
    auto-refunded ones until their deadline."""
    from cardops.payments.domain.due_checks import POLICY

    assert POLICY.quiet.total_seconds() == 900 and POLICY.cap_authorized.total_seconds() == 24 * 3600
    assert cost_model.checks_while_open(0.2) == 0  # captured within the quiet period
    # checks at 15, 45, 105, 225, 465 min after the anchor: the fifth at 7.76 h
    assert cost_model.checks_while_open(7.7) == 4
    assert cost_model.checks_while_open(7.8) == 5
    # then 15.75 h, 31.75 h, 55.75 h and every 24 h: 24 h → 6, 48 h → 7, 72 h → 8, 156 h → 12
    assert [cost_model.checks_while_open(h) for h in (24, 48, 72, 156)] == [6, 7, 8, 12]
    share = cost_model.SHAPE["auto_refund_share"]
    assert cost_model.janitor_checks_per_payment(48, 156) == pytest.approx((1 - share) * 7 + share * 12)


def test_a_janitor_check_writes_nothing_and_reads_the_payment_once() -> None:
    """The check's cost per payment: one read unit, no write unit, and no index write."""
    results = _results(captured=3.0, auto_refund=17.0)
    checks = cost_model.janitor_checks_per_payment()
    with_janitor = cost_model.per_million(results)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(cost_model.SHAPE, "hours_authorized_before_capture", 0.0)
        patch.setitem(cost_model.SHAPE, "hours_authorized_before_expiry", 0.0)
        without = cost_model.per_million(results)

    assert checks > 0
    assert with_janitor["_wru_per_payment"] == pytest.approx(without["_wru_per_payment"])
    assert with_janitor["_gsi_wru_per_payment"] == pytest.approx(without["_gsi_wru_per_payment"])
    assert with_janitor["_rru_per_payment"] - without["_rru_per_payment"] == pytest.approx(checks)


def test_the_schedulers_range_reads_are_a_fixed_monthly_cost() -> None:
    """Per run, per shard: its oldest anchor and one range per offset, half a read unit at least."""
    from cardops.payments.domain.due_checks import POLICY, Schedule
    from cardops.payments.store.due_checks import OPEN_SHARDS

    queries = cost_model.scheduler_queries_per_run()
    pending, authorized = (len(POLICY.offsets(s)) for s in (Schedule.PENDING, Schedule.AUTHORIZED))
    assert queries == OPEN_SHARDS * (2 + pending + authorized)
    results = _results(captured=3.0, auto_refund=17.0)
    fixed = cost_model.fixed_per_month(results)["janitor_scheduler"]
    runs = 30 * 24 * 4
    assert fixed > runs * queries * 0.5 * 0.1425 / 1_000_000  # the reads alone
    assert "janitor_scheduler" not in cost_model.per_million(results)


def test_a_janitor_message_is_billed_one_provider_wait_for_its_checks_at_once() -> None:
    """The worker checks a message's payments at once (``WorkerDeps.concurrency``): its duration is
    their CPU plus one round of waits, not ten; one at a time it would be ten rounds."""
    shape = cost_model.SHAPE
    wait = shape["janitor_provider_seconds"] + shape["aws_call_seconds"]  # the read; nothing written
    cpu = 10 * shape["janitor_cpu_seconds_per_check"] / (256 / cost_model.FULL_VCPU_MB)
    assert (cost_model.PAYMENTS_PER_MESSAGE, cost_model.CHECKS_AT_ONCE) == (10, 10)
    assert cost_model.janitor_message_seconds(256) == pytest.approx(cpu + wait)
    assert cost_model.janitor_message_seconds(1769) == pytest.approx(10 * 0.01 + wait)
