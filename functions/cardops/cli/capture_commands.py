"""``cardops payments capture``, ``cardops stores uncaptured``, ``cardops sandbox advance`` (SPEC §3, §8)."""

from __future__ import annotations

from urllib.parse import quote

import click

from cardops.cli.client import AdminClient, call, echo_json, target_options


def _group(cli: click.Group, name: str, help_text: str) -> click.Group:
    existing = cli.commands.get(name)
    if isinstance(existing, click.Group):
        return existing
    group = click.Group(name, help=help_text)
    cli.add_command(group)
    return group


def register(cli: click.Group) -> None:
    payments = _group(cli, "payments", "Payments: show, capture, refund.")
    stores = _group(cli, "stores", "Stores: balances, statements, uncaptured sales.")
    sandbox = _group(cli, "sandbox", "The local sandbox: move its clock.")

    @payments.command("capture")
    @click.argument("provider")
    @click.argument("payment_id")
    @click.option("--amount", type=click.IntRange(min=1), default=None, help="minor units; default: all")
    @target_options
    def capture(
        provider: str, payment_id: str, amount: int | None, client: AdminClient, as_json: bool
    ) -> None:
        """Capture an authorization before its deadline (the uncaptured rest is released)."""
        body = {"amount": amount} if amount is not None else {}
        path = f"/admin/payments/{quote(provider, safe='')}/{quote(payment_id, safe='')}/capture"
        data = call(client, "POST", path, body)
        if as_json:
            echo_json(data)
            return
        currency = data.get("currency") or ""
        click.echo(f"{provider}/{payment_id}: {data['status']} {data['captured_amount']} {currency}")

    @stores.command("uncaptured")
    @click.argument("store_id")
    @target_options
    def uncaptured(store_id: str, client: AdminClient, as_json: bool) -> None:
        """Open authorizations with their capture deadlines (未認証の売上があります)."""
        data = call(client, "GET", f"/admin/stores/{quote(store_id, safe='')}/uncaptured")
        if as_json:
            echo_json(data)
            return
        if not data["payments"]:
            click.echo(f"{store_id}: no uncaptured sales")
            return
        click.echo(f"{'payment':<32} {'amount':>10} {'deadline':<26} {'hours left':>10}  bound")
        for row in data["payments"]:
            payment = f"{row['provider']}/{row['provider_payment_id']}"
            click.echo(
                f"{payment:<32} {row['amount']:>10} {row['capture_deadline']:<26} "
                f"{row['hours_left']:>10}  {row['deadline_bound']}"
            )

    @sandbox.command("advance")
    @click.argument("duration", metavar="DURATION")
    @target_options
    def advance(duration: str, client: AdminClient, as_json: bool) -> None:
        """Move the sandbox clock forward, e.g. 8d, 12h, 1d12h (waiting workflows catch up)."""
        data = call(client, "POST", "/admin/sandbox/clock", {"advance": duration})
        if as_json:
            echo_json(data)
            return
        click.echo(f"sandbox clock now {data['now']} (offset {data['offset_seconds'] / 86400:.2f} days)")
