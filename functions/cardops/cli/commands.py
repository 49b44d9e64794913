"""Admin commands, each a thin call to the admin API (sandbox or deployed stage)."""

from __future__ import annotations

from typing import Any

import click

from cardops.cli.client import AdminClient, call, echo_json, target_options


def _print(data: Any, as_json: bool, table: list[tuple[str, Any]] | None = None) -> None:
    if as_json or table is None:
        echo_json(data)
        return
    width = max(len(k) for k, _ in table)
    for key, value in table:
        click.echo(f"{key.ljust(width)}  {value}")


def register(cli: click.Group) -> None:
    @cli.group()
    def payments() -> None:
        """Payments: show, capture, refund."""

    @payments.command("show")
    @click.argument("provider")
    @click.argument("payment_id")
    @target_options
    def show(provider: str, payment_id: str, client: AdminClient, as_json: bool) -> None:
        """Show a payment, its deadline and history."""
        data = call(client, "GET", f"/admin/payments/{provider}/{payment_id}")
        rows = [
            (k, data.get(k))
            for k in (
                "status", "currency", "amount", "captured_amount", "refunded_amount",
                "capture_deadline", "deadline_bound", "store_id", "reservation_id",
            )
        ]  # fmt: skip
        _print(data, as_json, rows)
        if not as_json:
            click.echo("history:")
            for entry in data.get("history", []):
                moved = f"{entry['from_status']} -> {entry['to_status']}"
                click.echo(f"  {entry['seq']:>3} {entry['at']}  {moved}  ({entry['kind']})")
