"""Admin commands, each a thin call to the admin API (sandbox or deployed stage)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from cardops.cli.client import AdminClient, call, echo_json, target_options
from cardops.cli.tables import NOTHING, indented, key_values, render, tokyo_time, transition

NOTICE_TEXT = {
    "capture_reminder": "capture reminder",
    "expired_refunded": "automatic refund notice",
}


def _ref(link: dict[str, Any] | None) -> str:
    if not link:
        return NOTHING
    return f"{link['provider']}/{link['provider_payment_id']} (request {link['request_id']})"


def payment_text(data: dict[str, Any]) -> str:
    """The payment view as people read it: summary, history, notices sent, re-payment links."""
    currency = data.get("currency") or ""
    deadline = data.get("capture_deadline")
    bound = f" ({data['deadline_bound']} bound)" if deadline and data.get("deadline_bound") else ""
    visit = f" (visit {data['visit_date']})" if data.get("visit_date") else ""
    rows: list[tuple[str, Any]] = [
        ("payment", f"{data['provider']}/{data['provider_payment_id']}"),
        ("status", data["status"]),
        ("amount", f"{data['amount']} {currency}".strip()),
        ("authorized", data.get("authorized_amount")),
        ("captured", data["captured_amount"]),
        ("refunded", data["refunded_amount"]),
        ("capture deadline", f"{tokyo_time(deadline)}{bound}"),
        ("store", data.get("store_id")),
        ("reservation", f"{data.get('reservation_id') or NOTHING}{visit}"),
    ]
    if data.get("repayment_of"):
        rows.append(("re-payment of", _ref(data["repayment_of"])))
    for link in data.get("repaid_by") or []:
        rows.append(("re-paid by", _ref(link)))
    parts = [key_values(rows), "history:"]
    history = [
        (entry["seq"], tokyo_time(entry["at"]), transition(entry["from_status"], entry["to_status"]),
         entry["kind"], entry.get("actor"))
        for entry in data.get("history", [])
    ]  # fmt: skip
    parts.append(indented(render(("seq", "at", "status", "event", "by"), history, right=(0,))))
    notices = data.get("notices") or []
    parts.append("notices sent:" if notices else "notices sent: none")
    if notices:
        rows_sent = [
            (tokyo_time(n["at"]), NOTICE_TEXT.get(n["kind"], n["kind"]), n["audience"],
             f"{n['hours_before']} h before" if n.get("hours_before") else NOTHING)
            for n in notices
        ]  # fmt: skip
        parts.append(indented(render(("sent", "notice", "to", "when"), rows_sent)))
    return "\n".join(parts)


def register(cli: click.Group) -> None:
    @cli.group()
    def payments() -> None:
        """Payments: show, capture, refund."""

    @payments.command("show")
    @click.argument("provider")
    @click.argument("payment_id")
    @target_options
    def show(provider: str, payment_id: str, client: AdminClient, as_json: bool) -> None:
        """Show a payment: deadline, history, notices sent and re-payment links."""
        data = call(client, "GET", f"/admin/payments/{quote(provider, safe='')}/{quote(payment_id, safe='')}")
        if as_json:
            echo_json(data)
            return
        click.echo(payment_text(data))
