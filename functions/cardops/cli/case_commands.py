"""``cardops cases …``: support cases with business-day SLAs (issue 16), thin calls to the admin API."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import click

from cardops.cli.client import AdminClient, call, echo_json, target_options
from cardops.cli.tables import echo_key_values, echo_table, tokyo_time
from cardops.support.domain.cases import Category

CATEGORIES = [c.value for c in Category]


def _case_path(case_id: str, action: str | None = None) -> str:
    path = f"/admin/cases/{quote(case_id, safe='')}"
    return f"{path}/{action}" if action else path


def _summary(case: dict[str, Any]) -> None:
    rows: list[tuple[str, Any]] = [
        ("case", case["case_id"]),
        ("category", case["category"]),
        ("status", case["status"]),
        ("summary", case["summary"]),
        ("subject", ", ".join(f"{k}={v}" for k, v in case["subject"].items() if v)),
        ("opened", f"{tokyo_time(case['opened_at'])} by {case['opened_by']}"),
    ]
    rows += [(f"{timer} due", tokyo_time(at)) for timer, at in case["due"].items()]
    if case.get("contact_hold"):
        rows.append(("contact hold", "yes: no customer contact until released"))
    if case.get("escalated_to"):
        rows.append(("escalated to", ", ".join(case["escalated_to"])))
    echo_key_values(rows)


def _answers(answers: dict[str, Any]) -> None:
    auth, refunds, deadline = answers["authorization"], answers["refunds"], answers["deadline"]
    click.echo("\npayment " + f"{answers['provider']}/{answers['provider_payment_id']} ({answers['status']})")
    echo_key_values(
        [
            ("authorization valid", f"{auth['validity_days']} days, lapses {tokyo_time(auth['lapses_at'])}"),
            ("store can void", "yes" if auth["store_can_void"] else "no"),
            ("why", auth["why"]),
            ("capture deadline", deadline["explanation"]),
            ("dispute", answers["dispute"]["state"]),
            (
                "refunds linked",
                ", ".join(f"{r['refund_id']} {r['amount']} {r['status']}" for r in refunds["linked"]),
            ),
            (
                f"candidates ({refunds['amount_searched']})",
                ", ".join(f"{c['refund_id']} {tokyo_time(c['at'])}" for c in refunds["candidates"]),
            ),
        ]
    )


def register(cli: click.Group) -> None:
    @cli.group("cases")
    def cases() -> None:
        """Support cases and complaints: business-day SLAs, contact holds, the monthly report."""

    @cases.command("open")
    @click.option("--category", type=click.Choice(CATEGORIES), required=True)
    @click.option("--summary", required=True, help="what the customer reported")
    @click.option("--channel", type=click.Choice(["phone", "email", "web", "letter"]), default="phone")
    @click.option("--store", "store_id", default=None)
    @click.option("--payment", default=None, metavar="PROVIDER/ID", help="the payment it is about")
    @click.option("--reservation", "reservation_id", default=None)
    @click.option("--tenant", "tenant_id", default=None)
    @click.option("--card-line", "card_line", default=None)
    @target_options
    def open_case(
        category: str, summary: str, channel: str, store_id: str | None, payment: str | None,
        reservation_id: str | None, tenant_id: str | None, card_line: str | None, client: AdminClient,
        as_json: bool,
    ) -> None:  # fmt: skip
        """Open a case; its SLA timers start (ack +5, resolve +15 business days; public body: report +1)."""
        subject: dict[str, Any] = {
            "store_id": store_id,
            "reservation_id": reservation_id,
            "tenant_id": tenant_id,
            "card_line": card_line,
        }
        if payment:
            provider, _, payment_id = payment.partition("/")
            if not payment_id:
                raise click.BadParameter("use PROVIDER/ID, e.g. payjp/ch_123", param_hint="--payment")
            subject.update(provider=provider, provider_payment_id=payment_id)
        body = {
            "category": category,
            "summary": summary,
            "channel": channel,
            "subject": {k: v for k, v in subject.items() if v is not None},
        }
        data = call(client, "POST", "/admin/cases", body)
        echo_json(data) if as_json else _summary(data)

    @cases.command("show")
    @click.argument("case_id")
    @click.option(
        "--amount", type=click.IntRange(min=1), default=None, help="refund amount the customer expects"
    )
    @target_options
    def show(case_id: str, amount: int | None, client: AdminClient, as_json: bool) -> None:
        """A case, its history and, for a payment, what support answers from the data."""
        path = _case_path(case_id) + (f"?amount={amount}" if amount else "")
        data = call(client, "GET", path)
        if as_json:
            echo_json(data)
            return
        _summary(data["case"])
        click.echo()
        echo_table(
            ("#", "at", "action", "by", "note"),
            [(h["seq"], tokyo_time(h["at"]), h["action"], h["actor"], h["note"]) for h in data["history"]],
        )
        if data.get("payment"):
            _answers(data["payment"])

    def _action(
        name: str, action: str, help_text: str, *, body_key: str = "note", required: bool = False
    ) -> None:
        @cases.command(name, help=help_text)
        @click.argument("case_id")
        @click.option(f"--{body_key}", "text", required=required, default=None if required else "")
        @target_options
        def command(case_id: str, text: str, client: AdminClient, as_json: bool) -> None:
            data = call(client, "POST", _case_path(case_id, action), {body_key: text})
            echo_json(data) if as_json else _summary(data)

    _action("ack", "ack", "Acknowledge a case (due within 5 business days).")
    _action("resolve", "resolve", "Resolve an acknowledged case.", body_key="resolution", required=True)
    _action("reported", "report", "Record that a public-body complaint was reported to the card program.")
    _action("release-hold", "release-hold", "The card program confirmed: release the contact hold.")
    _action("contact", "contact", "Record a customer contact (refused under a contact hold).")

    @cases.command("list")
    @click.option("--all", "show_all", is_flag=True, help="every case of --month, not only open ones")
    @click.option("--month", default=None, metavar="YYYY-MM", help="cases opened in that month (Asia/Tokyo)")
    @target_options
    def list_cases(show_all: bool, month: str | None, client: AdminClient, as_json: bool) -> None:
        """Open cases, oldest first (or the cases opened in a month)."""
        query = {"status": "all" if show_all else "open", **({"month": month} if month else {})}
        data = call(client, "GET", f"/admin/cases?{urlencode(query)}")
        if as_json:
            echo_json(data)
            return
        echo_table(
            ("case", "category", "status", "opened", "ack due", "resolve due", "hold"),
            [
                (
                    c["case_id"],
                    c["category"],
                    c["status"],
                    tokyo_time(c["opened_at"]),
                    tokyo_time(c["due"]["ack"]),
                    tokyo_time(c["due"]["resolve"]),
                    "yes" if c["contact_hold"] else "",
                )
                for c in data["cases"]
            ],
        )

    @cases.command("report")
    @click.option("--month", required=True, metavar="YYYY-MM", help="the month (Asia/Tokyo)")
    @click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="also write the CSV here")  # fmt: skip
    @click.option("--save", is_flag=True, help="write it to the reports bucket too, as the schedule does")
    @target_options
    def report(month: str, csv_path: Path | None, save: bool, client: AdminClient, as_json: bool) -> None:
        """The monthly complaints report: counts by category, SLA met/missed, open aged cases."""
        data = call(client, "POST" if save else "GET", f"/admin/complaints-reports/{quote(month, safe='')}")
        if csv_path is not None:
            csv_path.write_text(data["csv"], encoding="utf-8")
        if as_json:
            echo_json(data["report"] | {"written": data.get("written", [])})
            return
        built = data["report"]
        click.echo(
            f"complaints {built['month']}: {built['opened']} opened ({built['public_body']} public body)"
        )
        echo_table(("category", "count"), [(k, v) for k, v in built["by_category"].items() if v], right=(1,))
        echo_table(
            ("sla", "met", "missed", "pending"),
            [(t, c["met"], c["missed"], c["pending"]) for t, c in built["sla"].items()],
            right=(1, 2, 3),
        )
        echo_table(
            ("open case", "category", "age (business days)", "ack", "resolve"),
            [
                (c["case_id"], c["category"], c["age_business_days"], c["ack"], c["resolve"])
                for c in built["open_aged"]
            ],
            right=(2,),
        )
        for key in data.get("written", []):
            click.echo(f"written: {key}")
