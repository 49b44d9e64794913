"""``cardops local``: moto server, provisioned resources, API gateway, queue worker, change feed,
provider emulators."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardops import resources

SECRET_ENV = {
    "stripe_webhook_secret": "CARDOPS_STRIPE_WEBHOOK_SECRET",
    "payjp_webhook_token": "CARDOPS_PAYJP_WEBHOOK_TOKEN",
    "sbps_hash_key": "CARDOPS_SBPS_HASH_KEY",
}
DEFAULT_OUTPUTS = Path(".cardops") / "local-outputs.json"


def sandbox_secrets() -> dict[str, str]:
    values = dict(resources.SANDBOX_SECRETS)
    for key, env in SECRET_ENV.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    return values


@dataclass
class Sandbox:
    outputs: dict[str, str]
    stoppers: list[Any] = field(default_factory=list)
    worker: Any = None
    payjp: Any = None
    sbps: Any = None
    stripe: Any = None

    def stop(self) -> None:
        for stopper in reversed(self.stoppers):
            try:
                stopper()
            except Exception:  # noqa: S112 - best effort on shutdown
                continue


def start(port: int = 0, outputs_path: Path | None = DEFAULT_OUTPUTS) -> Sandbox:
    """Start everything on 127.0.0.1 and return the outputs (the stack's output keys)."""
    import logging

    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    default_user_config["lambda"] = {"use_docker": False}
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    from cardops.sandbox import moto_query

    moto_query.install()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_host, moto_port = moto.get_host_and_port()
    endpoint = f"http://{moto_host}:{moto_port}"
    from cardops.sandbox import sigv4

    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": sigv4.OPERATOR_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": sigv4.OPERATOR_SECRET_KEY,
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            "AWS_REGION": "ap-northeast-1",
            "MOTO_PORT": str(moto_port),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            "POWERTOOLS_DEV": "false",
        }
    )
    from cardops.kernel import aws
    from cardops.kernel.config import reset_settings
    from cardops.sandbox.gateway import Gateway, http_api_event
    from cardops.sandbox.payjp_emulator import PayjpEmulator
    from cardops.sandbox.provision import provision
    from cardops.sandbox.queue_worker import QueueWorker
    from cardops.sandbox.sbps_emulator import SbpsEmulator
    from cardops.sandbox.stripe_emulator import StripeEmulator

    aws.reset_clients()
    secrets = sandbox_secrets()
    provisioned = provision(secrets)
    from cardops.kernel import clock

    payjp = PayjpEmulator(
        secret_key=secrets["payjp_secret_key"], webhook_token=secrets["payjp_webhook_token"], clock=clock.now
    )
    sbps = SbpsEmulator(
        merchant_id=secrets["sbps_merchant_id"],
        service_id=secrets["sbps_service_id"],
        api_hash_key=secrets["sbps_api_hash_key"],
        notify_hash_key=secrets["sbps_hash_key"],
        clock=clock.now,
    )
    stripe = StripeEmulator(
        secret_key=secrets["stripe_secret_key"],
        webhook_secret=secrets["stripe_webhook_secret"],
        clock=clock.now,
    )
    os.environ.update(
        provisioned.environment(
            payjp_api_base=payjp.url, stripe_api_base=stripe.url, sbps_api_url=sbps.api_url
        )
    )
    from cardops.console.tokens import SANDBOX_CLIENT_ID, generate_sandbox_key

    # the console's user switcher signs this run's sessions with a key made for it (README "Web console")
    os.environ["CONSOLE_SANDBOX_SIGNING_KEY"] = generate_sandbox_key()
    reset_settings()
    from cardops.api.openapi import openapi_document
    from cardops.handlers import admin, console, webhook
    from cardops.sandbox import swagger

    document = json.dumps(openapi_document()).encode()
    from cardops.sandbox import moto_iam
    from cardops.sandbox.lambda_runner import run_as

    # from here on, moto authorizes every request: each handler as its own role, the rest as the operator
    aws.install_credentials(provisioned.credentials)
    moto_iam.install()
    enforcement = moto_iam.Enforcement().start()
    gateway = Gateway(
        webhook=run_as("webhook", webhook.handler),
        admin=run_as("admin", admin.handler),
        console=run_as("console", console.handler),
        extra_routes={"/openapi.json": lambda: (200, "application/json", document), **swagger.routes()},
        port=port,
    )
    # the providers' door as deployed (README: providers are registered at ``WebhookApiUrl``)
    webhook_api = Gateway(
        webhook=run_as("webhook", webhook.handler),
        admin=None,
        event_of=http_api_event,
        crash=(500, "Internal Server Error"),
    )
    # the platform's door as deployed (README: the platform calls ``AdminApiUrl``), IAM authorized:
    # requests signed (SigV4, execute-api) with the operator's credentials act as the configured user
    from datetime import UTC, datetime

    from cardops.sandbox.gateway import sandbox_user_arn

    operator = {sigv4.OPERATOR_ACCESS_KEY: sigv4.Signer(sigv4.OPERATOR_SECRET_KEY, sandbox_user_arn())}

    def authorize(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> str:
        return sigv4.authorize(
            method,
            raw_path,
            headers,
            body,
            signers=operator,
            region=os.environ["AWS_REGION"],
            now=datetime.now(UTC),
        )

    admin_api = Gateway(
        webhook=None,
        admin=run_as("admin", admin.handler),
        event_of=http_api_event,
        crash=(500, "Internal Server Error"),
        authorize=authorize,
    )
    payjp.webhook_url = f"{webhook_api.url}/webhooks/payjp"
    sbps.webhook_url = f"{webhook_api.url}/webhooks/sbps"
    stripe.webhook_url = f"{webhook_api.url}/webhooks/stripe"
    from cardops.sandbox.lambda_runner import invoke_handler

    def process(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        # through the runner, so `cardops invoke processor` waits for the worker's batch and vice versa
        result: dict[str, Any] = invoke_handler(
            resources.FUNCTIONS["processor"].handler, event, "sandbox-processor"
        )
        return result

    worker = QueueWorker(provisioned.events_queue_url, process)

    def check(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        # the janitor's worker drains its queue as its SQS trigger does in AWS (after `invoke janitor`)
        result: dict[str, Any] = invoke_handler(
            resources.FUNCTIONS["janitor_worker"].handler, event, "sandbox-janitor-worker"
        )
        return result

    janitor = QueueWorker(provisioned.janitor_queue_url, check)
    from cardops.sandbox.stream_poller import change_feed

    changes = change_feed(provisioned)  # the table's stream → the payment listeners
    for component in (payjp, stripe, sbps, gateway, webhook_api, admin_api, worker, changes, janitor):
        component.start()
    outputs = {
        "ApiUrl": f"{gateway.url}/",
        "WebhookApiUrl": f"{webhook_api.url}/",
        "AdminApiUrl": f"{admin_api.url}/",
        "ConsoleUrl": f"{gateway.url}/console",
        # no pool in the sandbox: its user switcher (/console/sandbox/login) signs its users in
        "ConsoleUserPoolId": "sandbox",
        "ConsoleUserPoolClientId": SANDBOX_CLIENT_ID,
        "AwsEndpointUrl": endpoint,
        **provisioned.outputs(),
        "PayjpApiBaseUrl": payjp.url,
        "PayjpSecretKey": secrets["payjp_secret_key"],
        "SbpsApiBaseUrl": sbps.url,
        "StripeApiBaseUrl": stripe.url,
        "StripeSecretKey": secrets["stripe_secret_key"],
    }
    if outputs_path is not None:
        outputs_path.parent.mkdir(parents=True, exist_ok=True)
        outputs_path.write_text(json.dumps(outputs, indent=2) + "\n", encoding="utf-8")
    sandbox = Sandbox(outputs=outputs, worker=worker, payjp=payjp, stripe=stripe, sbps=sbps)
    sandbox.stoppers = [
        moto.stop,
        enforcement.stop,
        payjp.stop,
        stripe.stop,
        sbps.stop,
        gateway.stop,
        webhook_api.stop,
        admin_api.stop,
        worker.stop,
        changes.stop,
        janitor.stop,
    ]
    access_log = os.environ.get("CARDOPS_IAM_ACCESS_LOG")
    if access_log:  # the IAM report of the end-to-end tests: every decision, saved on shutdown
        resource_outputs = provisioned.outputs()
        sandbox.stoppers.insert(
            1,
            lambda: moto_iam.write_access_log(
                Path(access_log), [{"outputs": resource_outputs, "decisions": moto_iam.access_log()}]
            ),
        )
    from cardops.sandbox.feed_schedule import start_feed_schedule

    sandbox.stoppers.insert(1, start_feed_schedule(provisioned.function_names["feed_sync"]))
    return sandbox


def serve(port: int = 0, outputs_path: Path = DEFAULT_OUTPUTS) -> None:
    """Run until SIGINT/SIGTERM (SPEC §8 contract 4)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sandbox = start(port=port, outputs_path=outputs_path)
    out = sandbox.outputs
    print(
        f"cardops sandbox ready: api {out['ApiUrl']} aws {out['AwsEndpointUrl']} "
        f"payjp {out['PayjpApiBaseUrl']} stripe {out['StripeApiBaseUrl']} sbps {out['SbpsApiBaseUrl']} "
        f"outputs {outputs_path}",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        sandbox.stop()
        print("cardops sandbox stopped", flush=True)
        sys.stderr.flush()
        # everything is stopped and written (the IAM access log too): leave without the interpreter's
        # finalization, which took 10 s and more after a busy session (past the test fixture's 15 s
        # SIGTERM grace: killed) while daemon threads of moto's workflow executions were still alive
        os._exit(0)
