"""CLI of refunds, store ledgers and the payout calendar (SPEC §5, §6, §8 contract 6)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

import click

from cardops.cli.client import AdminClient, call, echo_json, moves_money, target_options
from cardops.cli.refund_commands import refund_text
from cardops.cli.tables import render, tokyo_time
from cardops.ledger.domain.ledger import AdjustmentReason, Channel
from cardops.ledger.domain.payouts import payout_date
from cardops.payments.domain.refunds import RefundReason

CHANNELS = click.Choice([c.value for c in Channel])


def _show(data: Any, as_json: bool, rows: list[tuple[str, Any]]) -> None:
    if as_json:
        echo_json(data)
        return
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")


def _iso_date(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError(value)
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from None


def statement_pages(client: AdminClient, store_id: str, query: dict[str, str]) -> dict[str, Any]:
    """The statement's pages followed to the end, as one statement (the last page's summary, the
    first page's opening balance, every entry and running balance, no further cursor)."""
    path = f"/admin/stores/{quote(store_id, safe='')}/statement"
    data: dict[str, Any] = call(client, "GET", f"{path}?{urlencode({**query, 'limit': 1000})}")
    entries, balances = list(data["entries"]), list(data["balances"])
    while data.get("next_cursor"):
        cursor = data["next_cursor"]
        data = call(client, "GET", f"{path}?{urlencode({**query, 'limit': 1000, 'cursor': cursor})}")
        entries.extend(data["entries"])
        balances.extend(data["balances"])
    opening = data["closing_balance"] - sum(entry["amount"] for entry in entries)
    return {**data, "entries": entries, "balances": balances, "opening_balance": opening}


def register(cli: click.Group) -> None:
    @cli.group()
    def calendar() -> None:
        """Business calendar (Asia/Tokyo, bank holidays)."""

    @calendar.command("payout-date")
    @click.argument("requested_on", metavar="YYYY-MM-DD", callback=_iso_date)
    def payout_date_command(requested_on: date) -> None:
        """Print the payout date (ISO) for a payout requested on that Tokyo date."""
        click.echo(payout_date(requested_on).isoformat())

    payments = cli.commands.get("payments")
    if not isinstance(payments, click.Group):

        @cli.group("payments")
        def payments_group() -> None:
            """Payments: show, capture, refund."""

        payments = payments_group

    @payments.command("refund")
    @click.argument("provider")
    @click.argument("payment_id")
    @click.option("--amount", type=click.IntRange(min=1), required=True, help="minor units")
    @click.option("--reason", type=click.Choice([r.value for r in RefundReason]), required=True)
    @click.option("--note", default="", help="free text for finance")
    @click.option("--idempotency-key", default=None, help="repeat to retry safely (default: new refund)")
    @target_options
    @moves_money(lambda a: f"Refund {a['amount']} of {a['provider']}/{a['payment_id']} ({a['reason']})")
    def refund(
        provider: str,
        payment_id: str,
        amount: int,
        reason: str,
        note: str,
        idempotency_key: str | None,
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Refund all or part of a captured payment."""
        body = {
            "amount": amount,
            "reason": reason,
            "note": note,
            "idempotency_key": idempotency_key or uuid.uuid4().hex,
        }
        path = f"/admin/payments/{quote(provider, safe='')}/{quote(payment_id, safe='')}/refunds"
        data = call(client, "POST", path, body)
        echo_json(data) if as_json else click.echo(refund_text(data))

    @cli.group()
    def stores() -> None:
        """Store ledgers: balance, statement, adjustments, payouts."""

    @stores.command("balance")
    @click.argument("store_id")
    @target_options
    def balance(store_id: str, client: AdminClient, as_json: bool) -> None:
        """Balance per payment channel: confirmed, pending and any shortfall."""
        data = call(client, "GET", f"/admin/stores/{quote(store_id, safe='')}/balance")
        if as_json:
            _show(data, True, [])
            return
        click.echo(f"store {data['store_id']} as of {data['as_of']}")
        click.echo(
            f"{'channel':<10} {'cur':<4} {'balance':>12} {'confirmed':>12} {'pending':>12} {'shortfall':>10}"
        )
        for row in data["ledgers"]:
            click.echo(
                f"{row['channel']:<10} {row['currency']:<4} {row['balance']:>12} {row['confirmed']:>12} "
                f"{row['pending']:>12} {row['shortfall']:>10}"
            )

    @stores.command("statement")
    @click.argument("store_id")
    @click.option("--channel", type=CHANNELS, default="standard", show_default=True)
    @click.option("--currency", default="JPY", show_default=True)
    @target_options
    def statement(store_id: str, channel: str, currency: str, client: AdminClient, as_json: bool) -> None:
        """Every entry of one ledger, oldest first, with the balance after each (page by page)."""
        data = statement_pages(client, store_id, {"channel": channel, "currency": currency})
        if as_json:
            _show(data, True, [])
            return
        for entry, running in zip(data["entries"], data["balances"], strict=True):
            when = tokyo_time(entry["created_at"])
            click.echo(
                f"{when}  {entry['kind']:<13} {entry['amount']:>12} {running:>12}  {entry['entry_id']}"
            )
        summary = data["summary"]
        click.echo(f"balance {summary['balance']} {summary['currency']} (confirmed {summary['confirmed']})")

    @stores.command("adjust")
    @click.argument("store_id")
    @click.option("--amount", type=int, required=True, help="signed, minor units")
    @click.option("--reason", type=click.Choice([r.value for r in AdjustmentReason]), required=True)
    @click.option("--memo", default="")
    @click.option("--channel", type=CHANNELS, default="standard", show_default=True)
    @click.option("--currency", default="JPY", show_default=True)
    @click.option("--adjustment-id", default=None, help="repeat to retry safely")
    @target_options
    @moves_money(lambda a: f"Adjust store {a['store_id']} by {a['amount']} {a['currency']} ({a['reason']})")
    def adjust(
        store_id: str,
        amount: int,
        reason: str,
        memo: str,
        channel: str,
        currency: str,
        adjustment_id: str | None,
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Finance adjustment with a reason code."""
        body = {
            "adjustment_id": adjustment_id or f"adj-{uuid.uuid4().hex}",
            "amount": amount,
            "reason": reason,
            "memo": memo,
            "channel": channel,
            "currency": currency,
        }
        data = call(client, "POST", f"/admin/stores/{quote(store_id, safe='')}/adjustments", body)
        _show(data, as_json, [(k, data.get(k)) for k in ("entry_id", "amount", "currency", "reason")])

    @stores.command("payout")
    @click.argument("store_id")
    @click.option("--channel", type=CHANNELS, default="standard", show_default=True)
    @click.option("--currency", default="JPY", show_default=True)
    @click.option("--request-id", default=None, help="repeat to retry safely")
    @target_options
    @moves_money(lambda a: f"Pay out the confirmed {a['currency']} balance of store {a['store_id']}")
    def payout(
        store_id: str, channel: str, currency: str, request_id: str | None, client: AdminClient, as_json: bool
    ) -> None:
        """Request a payout of the confirmed balance (refused while negative or below the minimum)."""
        body = {
            "request_id": request_id or f"po-{uuid.uuid4().hex}",
            "channel": channel,
            "currency": currency,
        }
        data = call(client, "POST", f"/admin/stores/{quote(store_id, safe='')}/payouts", body)
        rows = [(k, data.get(k)) for k in ("payout_id", "gross", "transfer_fee", "net", "scheduled_for")]
        _show(data, as_json, rows)


#: exit code of ``ledger reconcile`` when differences remain that it could not repair
UNRESOLVED_EXIT = 4


def reconcile_text(data: dict[str, Any]) -> str:
    """Both sides' sums, then one line per difference (repaired or not)."""
    payments, ledger = data["payments_side"], data["ledger_side"]
    lines = [
        f"store {data['store_id']}: {data['checked_payments']} payment(s) checked, "
        f"{data['repaired_entries']} entr{'y' if data['repaired_entries'] == 1 else 'ies'} posted",
        "",
        render(
            ["", "payments", "ledger"],
            [(name, payments[key], ledger[key]) for name, key in _SIDES],
            right=(1, 2),
        ),
    ]
    differences = data["differences"]
    if differences:
        lines += [
            "",
            render(
                ["payment", "cause", "kind", "finding", "expected", "posted", "state", "detail"],
                [
                    (
                        d["payment"],
                        d["cause"],
                        d["kind"],
                        d["finding"],
                        d["expected"],
                        d["posted"],
                        "repaired" if d["repaired"] else "UNRESOLVED",
                        d["detail"],
                    )
                    for d in differences
                ],
                right=(4, 5),
            ),
        ]
    unresolved = data["unresolved_count"]
    lines += ["", f"{unresolved} difference(s) unresolved" if unresolved else "ledger = payments"]
    return "\n".join(lines)


_SIDES = (("captured", "captured"), ("refunded", "refunded"), ("charged back", "charged_back"))


def register_reconcile(cli: click.Group) -> None:
    @cli.group("ledger")
    def ledger() -> None:
        """Store ledgers against their payments: reconciliation."""

    @ledger.command("reconcile")
    @click.option("--store", "store_id", required=True, help="the store whose ledger to reconcile")
    @click.option(
        "--since",
        default=None,
        help="only payments changed since this ISO 8601 time (with offset); default: all",
    )
    @target_options
    @moves_money(lambda a: f"Post the ledger entries store {a['store_id']} is missing")
    def reconcile(store_id: str, since: str | None, client: AdminClient, as_json: bool) -> None:
        """Compare a store's payments with its ledger, post missing entries, list what differs.

        Exit code 4 while differences remain that could not be repaired.
        """
        body: dict[str, Any] = {}
        if since is not None:
            try:
                moment = datetime.fromisoformat(since)
            except ValueError:
                raise click.BadParameter(f"{since!r} is not an ISO 8601 time", param_hint="--since") from None
            if moment.tzinfo is None:
                raise click.BadParameter("give the time with its offset (e.g. +09:00)", param_hint="--since")
            body["changed_since"] = moment.isoformat()
        data = call(client, "POST", f"/admin/stores/{quote(store_id, safe='')}/ledger/reconcile", body)
        echo_json(data) if as_json else click.echo(reconcile_text(data))
        if data["unresolved_count"]:
            raise SystemExit(UNRESOLVED_EXIT)
