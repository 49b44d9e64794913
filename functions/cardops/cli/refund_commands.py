"""``cardops refunds …``: a payment's refunds and their corrections (SPEC §5), thin calls to the admin API.

Corrections never edit a refund: before submission it is canceled or its amount changed (the old
refund is reversed and a new one replaces it); a submitted refund is reversed where the provider
allows it; a refund that succeeded is claimed back from the customer with a debit memo.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from cardops.cli.client import AdminClient, call, echo_json, moves_money, target_options
from cardops.cli.tables import NOTHING, indented, key_values, render, tokyo_time, transition


def _path(provider: str, payment_id: str, refund_id: str | None = None, action: str | None = None) -> str:
    path = f"/admin/payments/{quote(provider, safe='')}/{quote(payment_id, safe='')}/refunds"
    if refund_id is not None:
        path += f"/{quote(refund_id, safe='')}"
    if action is not None:
        path += f"/{action}"
    return path


def refund_text(refund: dict[str, Any]) -> str:
    """One refund: which payment it refunds, what it replaced or was replaced by, and its history."""
    rows: list[tuple[str, Any]] = [
        ("refund", refund["refund_id"]),
        ("refunds payment", f"{refund['provider']}/{refund['provider_payment_id']}"),
        ("status", refund["status"]),
        ("amount", f"{refund['amount']} {refund['currency']}"),
        ("reason", refund["reason"]),
        ("note", refund.get("note")),
        ("store", f"{refund['store_id']} ({refund['channel']})"),
        ("card expired", refund.get("card_expired")),
        ("provider refund", refund.get("provider_refund_id")),
        ("replaces", refund.get("replaces")),
        ("replaced by", refund.get("replaced_by")),
        ("created", tokyo_time(refund["created_at"])),
    ]
    history = [
        (tokyo_time(h["at"]), transition(h.get("from_status"), h["to_status"]), h["actor"], h.get("note"))
        for h in refund.get("history", [])
    ]
    text = key_values(rows)
    if history:
        text += "\nhistory:\n" + indented(render(("at", "status", "by", "note"), history))
    return text


def _correction(refund: dict[str, Any]) -> str:
    if refund.get("replaced_by"):
        return f"replaced by {refund['replaced_by']}"
    if refund.get("replaces"):
        return f"replaces {refund['replaces']}"
    return NOTHING


def refunds_table(refunds: list[dict[str, Any]]) -> str:
    if not refunds:
        return "(no refunds)"
    rows = [
        (r["refund_id"], f"{r['provider']}/{r['provider_payment_id']}", r["status"],
         f"{r['amount']} {r['currency']}", r["reason"], _correction(r), tokyo_time(r["created_at"]))
        for r in refunds
    ]  # fmt: skip
    return render(
        ("refund", "payment", "status", "amount", "reason", "correction", "created"), rows, right=(3,)
    )


def memo_text(memo: dict[str, Any]) -> str:
    return key_values(
        [
            ("debit memo", memo["memo_id"]),
            ("claims back refund", memo["refund_id"]),
            ("payment", f"{memo['provider']}/{memo['provider_payment_id']}"),
            ("amount", f"{memo['amount']} {memo['currency']}"),
            ("note", memo.get("note") or NOTHING),
            ("created", tokyo_time(memo["created_at"])),
        ]
    )


def _no_input_correction(group: click.Group, action: str, help_text: str) -> None:
    """A correction that takes no input but the refund: ``cancel`` or ``reverse``."""

    @group.command(action, help=help_text)
    @click.argument("provider")
    @click.argument("payment_id")
    @click.argument("refund_id")
    @target_options
    @moves_money(
        lambda a: f"{action.capitalize()} refund {a['refund_id']} of {a['provider']}/{a['payment_id']}"
    )
    def command(provider: str, payment_id: str, refund_id: str, client: AdminClient, as_json: bool) -> None:
        data = call(client, "POST", _path(provider, payment_id, refund_id, action))
        echo_json(data) if as_json else click.echo(refund_text(data))


def register(cli: click.Group) -> None:
    @cli.group()
    def refunds() -> None:
        """A payment's refunds and their corrections: list, show, cancel, amend, reverse, debit-memo."""

    @refunds.command("list")
    @click.argument("provider")
    @click.argument("payment_id")
    @target_options
    def list_(provider: str, payment_id: str, client: AdminClient, as_json: bool) -> None:
        """The payment's refunds, oldest first, and what can still be refunded."""
        data = call(client, "GET", _path(provider, payment_id))
        if as_json:
            echo_json(data)
            return
        click.echo(refunds_table(data["refunds"]))
        remaining = data.get("remaining_refundable")
        click.echo(f"remaining refundable: {remaining if remaining is not None else NOTHING}")

    @refunds.command("show")
    @click.argument("provider")
    @click.argument("payment_id")
    @click.argument("refund_id")
    @target_options
    def show(provider: str, payment_id: str, refund_id: str, client: AdminClient, as_json: bool) -> None:
        """One refund with its history."""
        data = call(client, "GET", _path(provider, payment_id, refund_id))
        echo_json(data) if as_json else click.echo(refund_text(data))

    _no_input_correction(
        refunds, "cancel", "Cancel a refund not yet submitted to the provider (the ledger debit is reversed)."
    )
    _no_input_correction(
        refunds, "reverse", "Take back a submitted, not yet settled refund, where the provider allows it."
    )

    @refunds.command("amend")
    @click.argument("provider")
    @click.argument("payment_id")
    @click.argument("refund_id")
    @click.option("--amount", type=click.IntRange(min=1), required=True, help="the right amount, minor units")
    @target_options
    @moves_money(
        lambda a: f"Change refund {a['refund_id']} of {a['provider']}/{a['payment_id']} to {a['amount']}"
    )
    def amend(
        provider: str, payment_id: str, refund_id: str, amount: int, client: AdminClient, as_json: bool
    ) -> None:
        """Change the amount of a refund not yet submitted: it is reversed and a new one replaces it."""
        data = call(client, "POST", _path(provider, payment_id, refund_id, "amend"), {"amount": amount})
        echo_json(data) if as_json else click.echo(refund_text(data))

    @refunds.command("debit-memo")
    @click.argument("provider")
    @click.argument("payment_id")
    @click.argument("refund_id")
    @click.option("--amount", type=click.IntRange(min=1), default=None, help="default: the whole refund")
    @click.option("--note", default="", help="why the money is claimed back")
    @target_options
    @moves_money(
        lambda a: (
            f"Claim {a['amount'] if a['amount'] is not None else 'the whole refund'} of refund "
            f"{a['refund_id']} back from the customer"
        )
    )
    def debit_memo(
        provider: str,
        payment_id: str,
        refund_id: str,
        amount: int | None,
        note: str,
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Claim a refund that succeeded back from the customer (the refund itself stays as it was)."""
        body: dict[str, Any] = {"note": note}
        if amount is not None:
            body["amount"] = amount
        data = call(client, "POST", _path(provider, payment_id, refund_id, "debit-memo"), body)
        echo_json(data) if as_json else click.echo(memo_text(data))
