"""``cardops payments capture``, ``cardops stores uncaptured``, ``cardops sandbox advance`` (SPEC §3, §8)."""

from __future__ import annotations

from urllib.parse import quote

import click

from cardops.cli.client import AdminClient, call, echo_json, moves_money, target_options
from cardops.cli.groups import subgroup
from cardops.cli.tables import echo_table, tokyo_time


def register(cli: click.Group) -> None:
    payments = subgroup(cli, "payments", "Payments: show, capture, refund.")
    stores = subgroup(cli, "stores", "Stores: balances, statements, uncaptured sales.")
    sandbox = subgroup(cli, "sandbox", "The local sandbox: move its clock.")

    @payments.command("capture")
    @click.argument("provider")
    @click.argument("payment_id")
    @click.option("--amount", type=click.IntRange(min=1), default=None, help="minor units; default: all")
    @target_options
    @moves_money(
        lambda a: (
            f"Capture {a['amount'] if a['amount'] is not None else 'the whole authorization'} "
            f"of {a['provider']}/{a['payment_id']}"
        )
    )
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
        rows = [
            (
                f"{row['provider']}/{row['provider_payment_id']}",
                f"{row['amount']} {row.get('currency') or ''}",
                tokyo_time(row["capture_deadline"]),
                row["hours_left"],
                row["deadline_bound"],
            )
            for row in data["payments"]
        ]
        echo_table(("payment", "amount", "deadline", "hours left", "bound"), rows, right=(1, 3))

    @sandbox.command("advance")
    @click.argument("duration", metavar="DURATION")
    @target_options
    def advance(duration: str, client: AdminClient, as_json: bool) -> None:
        """Move the sandbox clock forward, e.g. 8d, 12h, 1d12h (waiting workflows catch up)."""
        data = call(client, "POST", "/admin/sandbox/clock", {"advance": duration})
        if as_json:
            echo_json(data)
            return
        click.echo(
            f"sandbox clock now {tokyo_time(data['now'])} (offset {data['offset_seconds'] / 86400:.2f} days)"
        )
