"""``cardops invoke FUNCTION --event FILE``: run one function with a sample event, as Lambda would.

The function is invoked through the Lambda API (the sandbox's moto server runs the real handler
in-process; a deployed stack runs the deployed function). A provider payload from
``events/webhooks/{provider}/`` is wrapped into the API Gateway event the webhook function gets
and signed the way that provider signs — with the sandbox secrets, so only against the sandbox.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from cardops import resources
from cardops.cli.client import AdminClient, call, target_options
from cardops.cli.samples import load_sample, set_option
from cardops.payments.domain.webhook_signatures import MalformedWebhook
from cardops.payments.providers import registry


def webhook_event(payload: bytes, provider: str, secrets: dict[str, str]) -> dict[str, Any]:
    """An API Gateway event carrying ``payload`` as ``provider`` would deliver it (signed by its
    plugin with the sandbox ``secrets``)."""
    from cardops.sandbox.gateway import api_gateway_event

    plugin = registry.find(provider)
    if plugin is None:
        raise click.UsageError(f"no provider {provider!r}: one of {', '.join(registry.names())}")
    raw, headers = plugin.sign_test_webhook(payload.strip(), secrets, now=time.time())
    return api_gateway_event("POST", f"/webhooks/{provider}", headers, raw)


def delivered_event(event: dict[str, Any]) -> tuple[str, str] | None:
    """(provider, event id) of a webhook API Gateway event, as the intake will name it."""
    provider = (event.get("pathParameters") or {}).get("provider") or str(event.get("path", "")).rsplit(
        "/", 1
    )[-1]
    plugin = registry.find(provider)
    if plugin is None:
        return None
    raw = event.get("body") or ""
    try:
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
        return provider, plugin.event_id(body)
    except (ValueError, UnicodeDecodeError, MalformedWebhook):
        return None


def wait_for_processing(
    client: AdminClient, provider: str, event_id: str, *, timeout: float, poll: float = 0.5
) -> dict[str, Any]:
    """Poll the event's processing state until it is processed or parked, or ``timeout`` passes."""
    path = f"/admin/events/{provider}/{quote(event_id, safe=':')}"
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = call(client, "GET", path)
        if status["state"] in ("processed", "parked") or time.monotonic() >= deadline:
            return status
        time.sleep(poll)


def _report_webhook(
    client: AdminClient,
    event: dict[str, Any],
    payload: Any,
    *,
    wait: float | None,
    as_json: bool,
    function: str,
) -> None:
    """The intake only stores and queues: say so, and with ``--wait`` tell what processing made of it."""
    from cardops.cli.event_commands import show_status

    status_code = int(payload.get("statusCode", 0)) if isinstance(payload, dict) else 0
    delivered = delivered_event(event)
    processing = None
    if status_code == 200 and delivered and wait is not None:
        processing = wait_for_processing(client, *delivered, timeout=wait)
    if as_json:
        click.echo(json.dumps({"function": function, "error": None, "result": payload,
                               "event": dict(zip(("provider", "event_id"), delivered or (), strict=False)),
                               "processing": processing}))  # fmt: skip
    else:
        if status_code != 200:
            click.echo(f"{function}: the webhook was refused (HTTP {status_code})")
        else:
            name = f"{delivered[0]}/{delivered[1]}" if delivered else "the event"
            click.echo(f"{function}: accepted {name} (HTTP 200); processing is asynchronous")
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        if processing is not None:
            show_status(processing)
        elif status_code == 200 and delivered:
            click.echo(f"see the outcome: cardops events show {delivered[0]} {delivered[1]} (or --wait)")
    if status_code != 200:
        raise SystemExit(1)
    if processing is not None and processing["state"] != "processed":
        raise click.ClickException(
            f"{delivered[0] if delivered else ''}/{processing['event_id']} is {processing['state']} "
            f"after waiting: {processing.get('reason') or 'not processed yet'}"
        )


def _lambda_client(client: AdminClient) -> Any:
    import boto3

    outputs = client.outputs
    region = outputs.get("AwsRegion", "ap-northeast-1")
    endpoint = outputs.get("AwsEndpointUrl", "")
    if endpoint.startswith("http://127.0.0.1") or endpoint.startswith("http://localhost"):
        return boto3.client(
            "lambda",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",  # noqa: S106 - moto accepts any credentials
        )
    session = client.session or boto3.session.Session(region_name=region)
    return session.client("lambda", region_name=region)


def register(cli: click.Group) -> None:
    @cli.command("invoke")
    @click.argument("function", type=click.Choice(sorted(resources.FUNCTIONS)))
    @click.option(
        "--event",
        "event_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=True,
        help="a Lambda event, or a provider payload under events/webhooks/{provider}/",
    )
    @click.option(
        "--wait",
        "wait",
        type=click.FloatRange(0, 900),
        default=None,
        is_flag=False,
        flag_value=60.0,
        help="webhook only: wait (seconds, default 60) for the processor's outcome",
    )
    @set_option
    @target_options
    def invoke(
        function: str,
        event_file: Path,
        wait: float | None,
        values: tuple[str, ...],
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Invoke FUNCTION with the event in FILE and print what it returned.

        Placeholders in FILE ({{today+5d}}, "{{epoch}}", {{unique}}, {{NAME}} from --set) are filled in
        against the target's clock first (see events/README.md). A webhook is only accepted (stored
        and queued) by the webhook function; processing is asynchronous: ``--wait`` waits for its
        outcome (the payment changed, or parked with reason).
        """
        payload = load_sample(event_file, client, values)
        try:
            event: Any = json.loads(payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            event = None
        provider = event_file.parent.name
        if function == "webhook" and (not isinstance(event, dict) or "httpMethod" not in event):
            if registry.find(provider) is None:
                raise click.UsageError(
                    f"a webhook payload must live under events/webhooks/{{{','.join(registry.names())}}}/ "
                    "(or pass an API Gateway event)"
                )
            if not client.is_sandbox:
                raise click.UsageError(
                    "provider payloads are signed with the sandbox secrets: use the sandbox"
                )
            from cardops.sandbox.local import sandbox_secrets

            event = webhook_event(payload, provider, sandbox_secrets())
        if event is None:
            raise click.UsageError(f"{event_file} is not JSON")
        name = client.outputs.get(resources.function_output_key(function))
        if not name:
            raise click.ClickException(f"the target has no output {resources.function_output_key(function)}")
        response = _lambda_client(client).invoke(FunctionName=name, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if function == "webhook" and not response.get("FunctionError"):
            _report_webhook(client, event, payload, wait=wait, as_json=as_json, function=name)
            return
        if as_json:
            click.echo(
                json.dumps({"function": name, "error": response.get("FunctionError"), "result": payload})
            )
        else:
            click.echo(
                f"{name}: {'error ' + response['FunctionError'] if response.get('FunctionError') else 'ok'}"
            )
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        if response.get("FunctionError"):
            raise SystemExit(1)
