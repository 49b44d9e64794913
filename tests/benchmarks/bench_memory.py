"""Peak memory of the functions no person waits on, against the memory they are deployed with
(issue 13 item 4): the evidence ``resources.FUNCTIONS`` sizes them by.

A function's peak is estimated from two measurements, each in a fresh interpreter (nothing else's
memory counted before it):

- its init: the child's own peak resident size (``VmHWM``) after importing its handler module as
  deployed (the Tracer on, so the X-Ray SDK patches botocore), Python itself included;
- its invocations: a Stripe payment's life (authorization, capture, refund, dispute) through the
  webhook, the processor and the change feed on moto in-process, twice (a store's first payment, its
  cold invocations creating clients, then a second); before each invocation of a measured function
  the process's peak resident size is reset (``/proc/self/clear_refs``), after it the peak's rise
  over the resident size before is that invocation's growth. Every growth is added (what one
  invocation keeps, what it frees): an upper bound, moto's own side of each call included.

The estimate is the init plus the sum of growths; the goal keeps ≥ 40% of the deployed memory free.
Lambda's runtime client adds a few MB to the init (not measured here).
"""

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


def invocation_growth() -> dict[str, float]:
    """Each measured function's growths summed, from ``_growths`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_memory", "--growth"],
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}"},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    answer: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return answer


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
    return growth | {f"{key}: invocations": n for key, n in invocations.items()}


def run() -> dict[str, float]:
    from cardops import resources

    growth = invocation_growth()
    figures: dict[str, float] = {}
    for key, module in MEASURED.items():
        init = init_mb(module)
        peak = init + growth[key]
        deployed = float(resources.FUNCTIONS[key].memory_mb)
        figures |= {
            f"{key}: init_mb": init,
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
    print(json.dumps(growths))
