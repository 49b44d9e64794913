"""Peak memory of the functions, against the memory they are deployed with (issue 13 item 4): the
evidence ``resources.FUNCTIONS`` sizes them by.

A function's peak is estimated from measurements each in a fresh interpreter (nothing else's
memory counted before it):

- its init: the child's own peak resident size (``VmHWM``) after importing its handler module as
  deployed (the Tracer on, so the X-Ray SDK patches botocore), Python itself included;
- its code's bound (``code_bound_mb``): the same, having also imported every ``cardops`` module
  the invocations below imported and made every AWS client (what a lazy import or a client's
  service model adds to whichever function is first to need it in the shared interpreter);
- its invocations: a Stripe payment's life (authorization, capture, refund, dispute) through the
  webhook, the processor and the change feed on moto in-process, twice (a store's first payment, its
  cold invocations creating clients, then a second); then twice two PAY.JP charges (emulator on
  127.0.0.1) through a janitor run (scheduler and worker: one repaired, one unchanged) and the
  admin API (a capture and a refund). Before each invocation of a measured function the
  process's peak resident size is reset (``/proc/self/clear_refs``), after it the peak's rise over
  the resident size before is that invocation's growth. Every growth is added (what one
  invocation keeps, what it frees): an upper bound, moto's and the emulator's side of each call
  included.

The estimate is the code's bound plus the sum of growths; the goal keeps ≥ 40% of the deployed
memory free. Lambda's runtime client adds a few MB to the init (not measured here)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

#: function key → the module of its handler; the functions measured (their events are the payment's)
MEASURED = {
    "processor": "cardops.handlers.processor",
    "changes": "cardops.handlers.changes",
    "capture_deadline": "cardops.handlers.capture_deadline",
    "janitor": "cardops.handlers.janitor",
    "janitor_worker": "cardops.handlers.janitor_worker",
    "admin": "cardops.handlers.admin",
}
#: share of the deployed memory left free at the estimated peak
HEADROOM = 0.4
ROOT = Path(__file__).resolve().parents[2]


def _rss_mb(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {field} in /proc/self/status")
    return int(match.group(1)) / 1024


def measured_growth(run: Callable[[], Any]) -> float:
    """MB the peak resident size rose over the resident size while ``run`` ran."""
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) back to the resident size
    before = _rss_mb("VmRSS")
    run()
    return max(0.0, _rss_mb("VmHWM") - before)


def _environment() -> dict[str, str]:
    from tests.benchmarks.bench_webhooks import LAMBDA_ENVIRONMENT

    return {**LAMBDA_ENVIRONMENT, "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}"}


#: the child's own peak resident size in kB: ``VmHWM`` belongs to its address space, made fresh at
#: exec. Not ``ru_maxrss``: Linux carries the pre-exec address space's high-water mark into it, and
#: before exec the child has the parent's (vforked, or forked as a copy), so a 1.4 GB ``make bench``
#: read as every child's init (``tests/unit/test_bench_memory.py`` spawns from a fat parent)
_OWN_PEAK = (
    "import re as _re; print(_re.search(r'^VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read(), _re.M)[1])"
)


def init_mb(module: str) -> float:
    """The peak resident size of a fresh interpreter that imported ``module``, in MB."""
    code = f"import {module}\n{_OWN_PEAK}"
    out = subprocess.run(
        [sys.executable, "-c", code], env=_environment(), cwd=ROOT, check=True, capture_output=True, text=True
    )
    return int(out.stdout.split()[-1]) / 1024


def invocation_growth() -> tuple[dict[str, float], list[str]]:
    """Each measured function's growths summed, from ``_growths`` in a fresh interpreter; and the
    modules of ``cardops`` that run imported (``code_bound_mb``)."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_memory", "--growth"],
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}"},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    answer = json.loads(out.stdout.splitlines()[-1])
    return answer["growth"], answer["modules"]


#: the AWS clients the functions make (``kernel.aws``), all of them: their service models are loaded
#: on a client's creation, in whichever function makes it first
CLIENTS = ("dynamodb", "sqs", "s3", "stepfunctions", "secretsmanager")


def code_bound_mb(module: str, modules: list[str]) -> float:
    """An upper bound of what a function's code holds: a fresh interpreter that imported ``module``,
    every ``cardops`` module the measured invocations imported (any function's lazy imports) and
    made every AWS client. The invocations share one interpreter, so a module or a client one
    function loads first is not in another's growth: this bound puts them back in every function."""
    code = (
        f"import importlib, {module}\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "from cardops.kernel import aws\n"
        f"for service in {CLIENTS!r}: aws.client(service)\n"
        f"{_OWN_PEAK}"
    )
    environment = _environment() | {"AWS_DEFAULT_REGION": "ap-northeast-1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return int(out.stdout.split()[-1]) / 1024


def _growths() -> dict[str, float]:
    """Two payments' lives on moto in-process; the growth of every invocation of a measured function."""
    from moto import mock_aws

    from tests.benchmarks import bench_webhooks as web

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "b", "AWS_SECRET_ACCESS_KEY": "b", "AWS_DEFAULT_REGION": "ap-northeast-1"}
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    growth = dict.fromkeys(MEASURED, 0.0)
    invocations = dict.fromkeys(MEASURED, 0.0)
    with mock_aws():
        from cardops import resources
        from cardops.kernel import aws
        from cardops.kernel.config import reset_settings
        from cardops.sandbox.lambda_runner import FakeContext
        from cardops.sandbox.provision import provision
        from cardops.sandbox.stream_poller import change_feed
        from tests.helpers import call, stripe_headers

        aws.reset_clients()
        made = provision(dict(resources.SANDBOX_SECRETS), prefix="memory")
        os.environ.update(made.environment(payjp_api_base="http://127.0.0.1:9"))
        reset_settings()
        from cardops.handlers import capture_deadline, processor, webhook

        feed = change_feed(made)
        for ids in (web.SAMPLE_IDS, web.WARM_UP_IDS):
            payment_id = f"pi_3{ids[0].decode()}0xyz9876"
            for kind, event_type in web.EVENT_TYPES.items():
                body = web._other_payment(web._body(event_type), ids)
                status, _ = call(webhook.handler, "POST", "/webhooks/stripe", body, stripe_headers(body))
                assert status == 200, (kind, status)
                feed.drain()
                record = {"Records": [web._record("stripe", body)]}
                growth["processor"] += measured_growth(
                    lambda record=record: processor.handler(record, FakeContext("processor"))
                )
                delivered: list[int] = []
                growth["changes"] += measured_growth(
                    lambda delivered=delivered: delivered.append(feed.drain())
                )
                invocations["processor"] += 1
                invocations["changes"] += float(delivered[0] > 0)
                if kind == "authorization":  # the capture deadline's wake-up while it is authorized
                    step = {
                        "action": "due",
                        "provider": "stripe",
                        "provider_payment_id": payment_id,
                        "since": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                    }
                    growth["capture_deadline"] += measured_growth(
                        lambda step=step: capture_deadline.handler(step, FakeContext("capture-deadline"))
                    )
                    invocations["capture_deadline"] += 1
        _janitor_and_admin(made, feed, growth, invocations)
    return growth | {f"{key}: invocations": n for key, n in invocations.items()}


def _janitor_and_admin(made: Any, feed: Any, growth: dict[str, float], invocations: dict[str, float]) -> None:
    """Twice (cold, then warm): two PAY.JP charges authorized through the processor, one captured at
    the provider with its webhook lost; a janitor run once they are due (the scheduler's invocation,
    then the worker's on the batch it sent: one repaired, one unchanged); the other captured and
    refunded through the admin API. The provider is the PAY.JP emulator on 127.0.0.1."""
    import boto3

    from cardops import resources
    from cardops.handlers import admin, janitor, janitor_worker, processor
    from cardops.kernel import clock
    from cardops.kernel.config import reset_settings
    from cardops.payments.domain.due_checks import POLICY
    from cardops.payments.providers import registry
    from cardops.sandbox.lambda_runner import FakeContext
    from cardops.sandbox.payjp_emulator import PayjpEmulator
    from cardops.sandbox.queue_worker import sqs_event
    from tests.helpers import call
    from tests.helpers import sqs_event as processor_event

    emulator = PayjpEmulator(secret_key=resources.SANDBOX_SECRETS["payjp_secret_key"], clock=clock.now)
    emulator.start()
    os.environ["PAYJP_API_BASE"] = emulator.url
    reset_settings()
    registry.reset()
    sqs = boto3.client("sqs", region_name="ap-northeast-1")
    try:
        for _ in range(2):
            charges = []
            for _ in range(2):
                charge = emulator.create_charge(
                    {
                        "amount": "6000",
                        "currency": "jpy",
                        "card": "tok_visa",
                        "capture": "false",
                        "metadata": {"store_id": "store_memory"},
                    }
                )
                body = json.dumps(
                    {"id": f"evnt_{charge['id']}", "type": "charge.succeeded", "data": {"id": charge["id"]}}
                )
                message = {"provider": "payjp", "event_id": f"evnt_{charge['id']}", "body": body}
                processor.handler(processor_event(message), FakeContext("processor"))
                charges.append(str(charge["id"]))
            feed.drain()
            lost, kept = charges
            emulator.capture_charge(lost, {})  # no webhook URL: the janitor must find it
            clock.advance(POLICY.quiet * 1.2)
            scheduled: list[dict[str, Any]] = []
            growth["janitor"] += measured_growth(
                lambda scheduled=scheduled: scheduled.append(
                    janitor.handler({"source": "aws.events"}, FakeContext("janitor"))
                )
            )
            invocations["janitor"] += 1
            assert scheduled[0]["enqueued"] == 2, scheduled
            received = sqs.receive_message(QueueUrl=made.janitor_queue_url, MaxNumberOfMessages=10)
            event = sqs_event(received["Messages"], "arn:aws:sqs:ap-northeast-1:123456789012:janitor")
            answer: list[Any] = []
            growth["janitor_worker"] += measured_growth(
                lambda event=event, answer=answer: answer.append(
                    janitor_worker.handler(event, FakeContext("janitor-worker"))
                )
            )
            invocations["janitor_worker"] += 1
            assert answer == [{"batchItemFailures": []}], answer
            for message in received["Messages"]:
                sqs.delete_message(QueueUrl=made.janitor_queue_url, ReceiptHandle=message["ReceiptHandle"])
            feed.drain()
            for method, path, body in (
                ("POST", f"/admin/payments/payjp/{kept}/capture", {}),
                (
                    "POST",
                    f"/admin/payments/payjp/{kept}/refunds",
                    {"amount": 1000, "reason": "customer_request"},
                ),
            ):
                status: list[int] = []
                growth["admin"] += measured_growth(
                    lambda method=method, path=path, body=body, status=status: status.append(
                        call(admin.handler, method, path, body)[0]
                    )
                )
                invocations["admin"] += 1
                assert status[0] in (200, 201), (path, status)
                feed.drain()
    finally:
        emulator.stop()
        registry.reset()


def run() -> dict[str, float]:
    from cardops import resources

    growth, modules = invocation_growth()
    figures: dict[str, float] = {}
    for key, module in MEASURED.items():
        code = code_bound_mb(module, modules)
        peak = code + growth[key]
        deployed = float(resources.FUNCTIONS[key].memory_mb)
        figures |= {
            f"{key}: init_mb": init_mb(module),
            f"{key}: code_bound_mb": code,
            f"{key}: invocations_measured": growth[f"{key}: invocations"],
            f"{key}: invocations_growth_mb": growth[key],
            f"{key}: estimated_peak_mb": peak,
            f"{key}: deployed_memory_mb": deployed,
            f"{key}: headroom_share": 1 - peak / deployed,
            f"{key}: headroom_share_goal": HEADROOM,
        }
    return figures


if __name__ == "__main__" and sys.argv[1:] == ["--growth"]:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    growths = _growths()
    loaded = sorted(
        m for m in sys.modules if m.startswith("cardops.") and not m.startswith("cardops.sandbox")
    )
    print(json.dumps({"growth": growths, "modules": loaded}))
