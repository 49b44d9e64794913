"""``cardops reservations put|show`` (SPEC §8 contract 2): what payments and re-payments refer to."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import click

from cardops.cli.client import AdminClient, call, echo_json, target_options
from cardops.cli.tables import key_values, tokyo_time


def reservation_text(data: dict[str, Any]) -> str:
    return key_values(
        [
            ("reservation", data["reservation_id"]),
            ("store", data["store_id"]),
            ("holder", data["holder_name"]),
            ("e-mail", data["email"]),
            ("tel", data.get("tel")),
            ("reserved at", tokyo_time(data["reserved_at"])),
            ("amount", f"{data['amount']} {data['currency']} ({data['tax_treatment']})"),
            ("established", data["established"]),
            ("updated", tokyo_time(data["updated_at"])),
        ]
    )


def _aware(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no zone: add one, e.g. {value}+09:00")
    return moment.isoformat()


def register(cli: click.Group) -> None:
    @cli.group()
    def reservations() -> None:
        """Reservations: register (before or after the payment arrives) and show."""

    @reservations.command("put")
    @click.argument("reservation_id")
    @click.option("--store", "store_id", required=True)
    @click.option("--holder-name", required=True, help="the reservation holder, as booked")
    @click.option("--email", required=True, help="the reservation e-mail address")
    @click.option("--tel", default=None, help="when the booking form required it")
    @click.option("--reserved-at", required=True, callback=_aware, help="ISO 8601 with zone")
    @click.option("--amount", type=click.IntRange(min=0), required=True, help="minor units")
    @click.option("--tax-treatment", type=click.Choice(["inclusive", "exclusive"]), required=True)
    @click.option("--currency", default="JPY", show_default=True)
    @target_options
    def put(
        reservation_id: str,
        store_id: str,
        holder_name: str,
        email: str,
        tel: str | None,
        reserved_at: str,
        amount: int,
        tax_treatment: str,
        currency: str,
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Register or replace a reservation (holder, e-mail, TEL, date-time, amount, 税込/税抜)."""
        body: dict[str, Any] = {
            "store_id": store_id,
            "holder_name": holder_name,
            "email": email,
            "reserved_at": reserved_at,
            "amount": amount,
            "tax_treatment": tax_treatment,
            "currency": currency.upper(),
        }
        if tel:
            body["tel"] = tel
        data = call(client, "PUT", f"/admin/reservations/{quote(reservation_id, safe='')}", body)
        echo_json(data) if as_json else click.echo(reservation_text(data))

    @reservations.command("show")
    @click.argument("reservation_id")
    @target_options
    def show(reservation_id: str, client: AdminClient, as_json: bool) -> None:
        """A reservation, and whether it is still established (予約不成立 after an automatic refund)."""
        data = call(client, "GET", f"/admin/reservations/{quote(reservation_id, safe='')}")
        echo_json(data) if as_json else click.echo(reservation_text(data))
