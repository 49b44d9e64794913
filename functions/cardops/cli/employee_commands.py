"""``cardops feeds employee put|show``, ``feeds select``, ``feeds runs``: the rest of SPEC §7 admin actions.

Each is a thin call to the admin API, like the other ``feeds`` commands; tables by default, ``--json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from cardops.cli.client import AdminClient, call, echo_json, target_options
from cardops.cli.feed_commands import _p, refund_link
from cardops.cli.groups import subgroup
from cardops.cli.tables import key_values, render, tokyo_time


def employee_text(data: dict[str, Any]) -> str:
    return key_values(
        [
            ("employee", data["employee_code"]),
            ("name (kana)", data["name_kana"]),
            ("card linkage code", data["card_linkage_code"]),
            ("employee code at card company", data.get("card_company_employee_code")),
            ("settlement", data.get("settlement")),
        ]
    )


def runs_table(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "(no runs)"
    rows = [
        (r["business_date"], r["status"] + (f" ({r['holiday_name']})" if r.get("holiday_name") else ""),
         r.get("lines_read"), r.get("matched"), r.get("errors"), r.get("duplicates"),
         tokyo_time(r.get("window_until")), r["next_sync_date"])
        for r in runs
    ]  # fmt: skip
    headers = ("date", "status", "read", "matched", "errors", "dupes", "files until", "next sync")
    return render(headers, rows, right=(2, 3, 4, 5))


def register(cli: click.Group) -> None:
    feeds = subgroup(
        cli, "feeds", "Card statement feeds: sync, error data, fixes, hand assignment, link/exclude."
    )
    employee = subgroup(feeds, "employee", "One employee of the master: put, show.")

    @employee.command("put")
    @click.argument("tenant_id")
    @click.argument("employee_code")
    @click.option("--name-kana", required=True, help="as the card company registers it (large kana)")
    @click.option("--card-linkage-code", required=True, help="カード連携用コード")
    @click.option("--card-company-employee-code", default=None, help="社員コード at the card company")
    @click.option("--settlement", type=click.Choice(["corporate", "personal"]), default="corporate",
                  show_default=True)  # fmt: skip
    @target_options
    def put(
        tenant_id: str,
        employee_code: str,
        name_kana: str,
        card_linkage_code: str,
        card_company_employee_code: str | None,
        settlement: str,
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Register or change one employee (then `feeds rematch` links their error lines)."""
        body = {
            "name_kana": name_kana,
            "card_linkage_code": card_linkage_code,
            "card_company_employee_code": card_company_employee_code,
            "settlement": settlement,
        }
        path = f"/admin/tenants/{_p(tenant_id)}/employees/{_p(employee_code)}"
        data = call(client, "PUT", path, body)
        echo_json(data) if as_json else click.echo(employee_text(data))

    @employee.command("show")
    @click.argument("tenant_id")
    @click.argument("employee_code")
    @target_options
    def show(tenant_id: str, employee_code: str, client: AdminClient, as_json: bool) -> None:
        """One employee of the master, as matching sees them."""
        data = call(client, "GET", f"/admin/tenants/{_p(tenant_id)}/employees/{_p(employee_code)}")
        echo_json(data) if as_json else click.echo(employee_text(data))

    @feeds.command("select")
    @click.argument("tenant_id")
    @click.argument("employee_code")
    @click.argument("line_id")
    @click.option("--report", "report_id", required=True, help="the expense report that uses the line")
    @target_options
    def select(
        tenant_id: str, employee_code: str, line_id: str, report_id: str, client: AdminClient, as_json: bool
    ) -> None:
        """Use a selectable line in an expense report (what the employee does in a claim)."""
        path = f"/admin/tenants/{_p(tenant_id)}/employees/{_p(employee_code)}/card-lines/{_p(line_id)}/select"
        line = call(client, "POST", path, {"report_id": report_id})
        if as_json:
            echo_json(line)
            return
        click.echo(
            f"{line['line_id']} {line['usage_date']} {line['amount']} {line['currency']}  "
            f"used {line['report_id']}  {line['merchant']}{refund_link(line.get('refund'))}"
        )

    @feeds.command("runs")
    @click.option("--date", "business_date", type=click.DateTime(["%Y-%m-%d"]), default=None,
                  help="only the runs of that business date")  # fmt: skip
    @target_options
    def runs(business_date: datetime | None, client: AdminClient, as_json: bool) -> None:
        """Recorded runs and skips of the feed sync, oldest first."""
        path = "/admin/feeds/runs" + (f"?business_date={business_date.date()}" if business_date else "")
        data = call(client, "GET", path)
        echo_json(data) if as_json else click.echo(runs_table(data))
