"""``cardops stores settle``: a batch settlement (一括精算) of one ledger (SPEC §6), via the admin API.

The settlement nets the pending sales against the confirmed balance; only a positive result is paid
out, otherwise nothing is paid and the rest carries forward. A shortfall can only be covered in the
same payment channel: bank transfers and other channels are refused with the shortfall stated.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import click

from cardops.cli.client import AdminClient, call, echo_json, moves_money, target_options
from cardops.cli.groups import subgroup
from cardops.cli.tables import NOTHING, key_values
from cardops.ledger.domain.ledger import Channel
from cardops.ledger.domain.payouts import OffsetMethod

CHANNELS = click.Choice([c.value for c in Channel])

OUTCOME_TEXT = {
    "paid": "paid out",
    "scheduled_by_provider": "paid by the provider on the store's contract schedule",
    "carried_forward": "nothing paid; the rest carries forward",
}


def settlement_text(data: dict[str, Any]) -> str:
    currency = data["currency"]
    rows: list[tuple[str, Any]] = [
        ("settlement", data["settlement_id"]),
        ("store", f"{data['store_id']} ({data['channel']})"),
        ("confirmed", f"{data['confirmed']} {currency}"),
        ("pending netted", f"{data['pending_netted']} {currency}"),
        ("net", f"{data['net']} {currency}"),
        ("outcome", OUTCOME_TEXT.get(data["outcome"], data["outcome"])),
        ("carried forward", f"{data['carried_forward']} {currency}"),
    ]
    payout = data.get("payout")
    if payout:
        rows += [
            ("payout", payout["payout_id"]),
            ("paid on", payout["scheduled_for"]),
            (
                "gross / fee / net",
                f"{payout['gross']} / {payout['transfer_fee']} / {payout['net']} {currency}",
            ),
        ]
    else:
        rows.append(("payout", NOTHING))
    return key_values(rows)


def register(cli: click.Group) -> None:
    stores = subgroup(cli, "stores", "Store ledgers: balance, statement, adjustments, payouts, settlements.")

    @stores.command("settle")
    @click.argument("store_id")
    @click.option("--channel", type=CHANNELS, default="standard", show_default=True)
    @click.option("--currency", default="JPY", show_default=True)
    @click.option(
        "--method",
        type=click.Choice([m.value for m in OffsetMethod]),
        default=OffsetMethod.SAME_CHANNEL_SETTLEMENT.value,
        show_default=True,
        help="how a negative balance is to be covered (only the same channel is accepted)",
    )
    @click.option("--source-channel", type=CHANNELS, default=None, help="with --method other_channel")
    @click.option("--settlement-id", default=None, help="repeat to retry safely (default: a new settlement)")
    @target_options
    @moves_money(lambda a: f"Settle the {a['channel']} {a['currency']} balance of store {a['store_id']}")
    def settle(
        store_id: str,
        channel: str,
        currency: str,
        method: str,
        source_channel: str | None,
        settlement_id: str | None,
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Batch settlement: net pending sales against the balance; pay only a positive result."""
        body: dict[str, Any] = {
            "settlement_id": settlement_id or f"st-{uuid.uuid4().hex}",
            "channel": channel,
            "currency": currency,
            "method": method,
        }
        if source_channel:
            body["source_channel"] = source_channel
        data = call(client, "POST", f"/admin/stores/{quote(store_id, safe='')}/settlements", body)
        echo_json(data) if as_json else click.echo(settlement_text(data))
