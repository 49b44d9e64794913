"""``cardops events dlq|redrive|show``: webhook events after intake — parked ones and their reasons."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from cardops.cli.client import AdminClient, call, echo_json, target_options
from cardops.cli.tables import tokyo_time
from cardops.payments.providers import registry

PROVIDERS = click.Choice(registry.names())


def _parked_table(parked: list[dict[str, Any]]) -> None:
    if not parked:
        click.echo("(the dead-letter queue is empty)")
        return
    for event in parked:
        name = f"{event['provider'] or '?'}/{event['event_id'] or event['message_id']}"
        click.echo(
            f"{name}  attempts {event['attempts']} (receives {event['receive_count']})  "
            f"first failure {tokyo_time(event['first_failed_at'])}  "
            f"last failure {tokyo_time(event['last_failed_at'])}"
        )
        click.echo(f"    reason: {event['reason']}")


def _permanent_table(parked: list[dict[str, Any]]) -> None:
    if not parked:
        click.echo("(no event is parked as permanently failing)")
        return
    for event in parked:
        click.echo(f"{event['provider']}/{event['event_id']}  parked {tokyo_time(event['parked_at'])}")
        click.echo(f"    reason: {event['reason']}")


def redrive_event(client: AdminClient, event_id: str, provider: str | None, as_json: bool) -> None:
    moved = call(client, "POST", "/admin/events/dlq/redrive", {"event_id": event_id, "provider": provider})
    if as_json:
        echo_json(moved)
        return
    click.echo(f"moved {moved['provider']}/{moved['event_id']} back to the events queue")
    click.echo(f"    last reason: {moved['reason']}")


def show_status(status: dict[str, Any]) -> None:
    click.echo(f"{status['provider']}/{status['event_id']}: {status['state']}")
    if status.get("outcome"):
        click.echo(f"    outcome: {status['outcome']}  ({tokyo_time(status['processed_at'])})")
    if status.get("attempts"):
        click.echo(
            f"    failed attempts: {status['attempts']}  first {tokyo_time(status['first_failed_at'])}  "
            f"last {tokyo_time(status['last_failed_at'])}"
        )
        click.echo(f"    reason: {status['reason']}")
    if status.get("parked_at") and status.get("permanent"):
        click.echo(
            "    parked as permanent (never retried): fix the schema handling, then "
            f"cardops events redrive {status['event_id']} --provider {status['provider']}"
        )
    elif status.get("parked_at"):
        click.echo(f"    parked in the dead-letter queue: cardops events redrive {status['event_id']}")


def register(cli: click.Group) -> None:
    @cli.group()
    def events() -> None:
        """Webhook events after intake: processing state, the dead-letter queue, redrive."""

    @events.command("dlq")
    @click.option("--redrive", "redrive_id", default=None, metavar="EVENT_ID", help="move this event back")
    @click.option("--provider", type=PROVIDERS, default=None, help="with --redrive, when the id is ambiguous")
    @target_options
    def dlq(redrive_id: str | None, provider: str | None, client: AdminClient, as_json: bool) -> None:
        """List events parked after every processing attempt failed, with the reason."""
        if redrive_id:
            redrive_event(client, redrive_id, provider, as_json)
            return
        parked = call(client, "GET", "/admin/events/dlq")
        echo_json(parked) if as_json else _parked_table(parked)

    @events.command("parked")
    @target_options
    def parked(client: AdminClient, as_json: bool) -> None:
        """List events parked without retries: authentic, but their body fails the event schema."""
        listed = call(client, "GET", "/admin/events/parked")
        echo_json(listed) if as_json else _permanent_table(listed)

    @events.command("redrive")
    @click.argument("event_id")
    @click.option("--provider", type=PROVIDERS, default=None, help="when the id is parked for several")
    @target_options
    def redrive(event_id: str, provider: str | None, client: AdminClient, as_json: bool) -> None:
        """Move one parked event back to the events queue (after fixing its cause)."""
        redrive_event(client, event_id, provider, as_json)

    @events.command("show")
    @click.argument("provider", type=PROVIDERS)
    @click.argument("event_id")
    @target_options
    def show(provider: str, event_id: str, client: AdminClient, as_json: bool) -> None:
        """What processing made of one received event: processed (how), failing (why), or parked."""
        status = call(client, "GET", f"/admin/events/{provider}/{quote(event_id, safe=':')}")
        echo_json(status) if as_json else show_status(status)
