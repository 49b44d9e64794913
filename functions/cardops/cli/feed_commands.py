"""``cardops feeds …`` and ``cardops diagnose``: card statement feeds (SPEC §7, §8 contracts 5 and 7)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from cardops.cli.client import (
    AdminClient,
    ApiError,
    ApiTimeout,
    ApiUnreachable,
    call,
    echo_json,
    target_options,
)
from cardops.kernel import clock
from cardops.kernel.calendar import tokyo_date


def _p(value: str) -> str:
    return quote(value, safe=":")


def _line_table(lines: list[dict[str, Any]]) -> None:
    if not lines:
        click.echo("(no lines)")
        return
    for line in lines:
        state = (
            "used " + str(line["report_id"]) if line["report_id"] else "excluded" if line["excluded"] else ""
        )
        state = state or ("selectable" if line["selectable"] else "unmatched")
        click.echo(
            f"{line['line_id']:<28} {line['usage_date']} {line['amount']:>9} {line['currency']}  "
            f"{line['settlement']:<9} {state:<12} {line['merchant']}{refund_link(line.get('refund'))}"
        )


#: the server answers within ``--step``; the client waits this much longer before giving up on an answer
ANSWER_MARGIN_SECONDS = 15.0
#: API Gateway ends a request after 29 s: a deployed stage's step stays below that with room to answer
DEPLOYED_MAX_STEP_SECONDS = 20.0
STILL_RUNNING = "the sync is still running on the server; run the same command again to resume"


class SyncStillRunning(click.ClickException):
    """No answer in time: the server keeps going and checkpoints; the same command resumes it."""

    exit_code = 3


def describe_progress(summary: dict[str, Any]) -> str:
    """One line of progress: files and lines so far, then the refund-linking phase."""
    text = (
        f"feed sync {summary['business_date']}: files {summary.get('files_done', 0)}/"
        f"{summary.get('files_total', 0)}, {summary.get('lines_read', 0):,} lines read, "
        f"{summary.get('matched', 0):,} matched"
    )
    if summary.get("files_total") and summary.get("files_done") == summary.get("files_total"):
        total = summary.get("refund_tenants_total") or 0
        if total and summary["status"] == "in_progress":
            text += f", linking refunds (tenants {summary.get('refund_tenants_done', 0)}/{total})"
    return f"{text} ({summary['status']})"


def refund_link(link: dict[str, Any] | None) -> str:
    """A refund line's purchase (``refunds G-0200``), or the candidates an admin chooses from."""
    if not link:
        return ""
    if link.get("purchase_line_id"):
        return f"  (refunds {link['purchase_line_id']})"
    candidates = link.get("candidate_line_ids") or []
    if candidates:
        return f"  (refund of one of: {', '.join(candidates)})"
    return "  (refund: no purchase found)"


def sync_until_done(
    client: AdminClient,
    business_date: date,
    step: float,
    *,
    timeout: float | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """POST the sync in time-boxed steps until it is no longer ``in_progress``.

    Each call asks the server to stop after ``step`` seconds and checkpoint; the client waits
    ``step`` plus a margin for the answer. A call that gets no answer in time (or a gateway
    timeout) ends with ``SyncStillRunning``: the server finishes or checkpoints, and the same
    command resumes there.
    """
    if not client.is_sandbox:
        step = min(step, DEPLOYED_MAX_STEP_SECONDS)
    wait = timeout if timeout is not None else step + ANSWER_MARGIN_SECONDS
    body = {"business_date": business_date.isoformat(), "time_budget_seconds": step}
    while True:
        try:
            summary: dict[str, Any] = client.request("POST", "/admin/feeds/sync", body, timeout=wait)
        except ApiTimeout as exc:
            raise SyncStillRunning(f"{STILL_RUNNING} (no answer within {wait:g} s)") from exc
        except ApiError as exc:
            if exc.status == HTTPStatus.GATEWAY_TIMEOUT:
                raise SyncStillRunning(f"{STILL_RUNNING} (the gateway timed out)") from exc
            raise click.ClickException(str(exc)) from exc
        except ApiUnreachable as exc:
            raise click.ClickException(f"{exc}; run the same command again to resume") from exc
        if progress is not None:
            progress(summary)
        if summary["status"] != "in_progress":
            return summary


def register(cli: click.Group) -> None:
    @cli.group()
    def feeds() -> None:
        """Card statement feeds: sync, error data, fixes, hand assignment, link/exclude."""

    @feeds.command("sync")
    @click.option(
        "--date",
        "business_date",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="default: today (Tokyo)",
    )
    @click.option(
        "--step",
        type=click.FloatRange(1, 600),
        default=20.0,
        show_default=True,
        help=f"seconds of work per API call (a deployed stage uses at most {DEPLOYED_MAX_STEP_SECONDS:g})",
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(0.01, 3600),
        default=None,
        help=f"seconds to wait for each answer (default: step + {ANSWER_MARGIN_SECONDS:g})",
    )
    @click.option("--quiet", is_flag=True, help="no progress lines on stderr")
    @target_options
    def sync(
        business_date: Any,
        step: float,
        timeout: float | None,
        quiet: bool,
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Run the sync as the schedule would on that date (skips weekends and holidays).

        Long runs go in steps: progress goes to stderr after each (not with --json), and the
        summary to stdout at the end. If an answer does not come in time, the server keeps its
        checkpoint: exit code 3, and the same command resumes.
        """
        day = business_date.date() if business_date else tokyo_date(clock.now())

        def show(summary: dict[str, Any]) -> None:
            click.echo(describe_progress(summary), err=True)

        # --json is for scripts: its stdout is the summary alone, and it says nothing else
        quiet = quiet or as_json
        summary = sync_until_done(client, day, step, timeout=timeout, progress=None if quiet else show)
        if as_json:
            echo_json(summary)
            return
        click.echo(
            f"{summary['business_date']}: {summary['status']}"
            + (f" ({summary['holiday_name']})" if summary.get("holiday_name") else "")
        )
        click.echo(
            f"lines read {summary['lines_read']}  matched {summary['matched']}  errors {summary['errors']}  "
            f"duplicates {summary['duplicates']}  malformed {summary.get('malformed', 0)}"
        )
        for tenant in summary.get("tenants", []):
            blocked = (
                f"  BLOCKED: {tenant['corporate_number_problem']}"
                if tenant.get("corporate_number_problem")
                else ""
            )
            click.echo(
                f"  {tenant['tenant_id']}: read {tenant['lines_read']} matched {tenant['matched']} "
                f"errors {tenant['errors']} duplicates {tenant['duplicates']}{blocked}"
            )
        for problem in summary.get("problems", []):
            where = f"{problem['file']}:{problem['line']}" if problem.get("line") else problem["file"]
            click.echo(f"  ! {where}: {problem['reason']}")
        click.echo(f"next sync: {summary['next_sync_date']}")

    @feeds.command("tenant")
    @click.argument("tenant_id")
    @click.option("--corporate-number", default=None, help="法人番号 (13 digits)")
    @target_options
    def tenant(tenant_id: str, corporate_number: str | None, client: AdminClient, as_json: bool) -> None:
        """Register a tenant's corporate number."""
        echo_json(
            call(client, "PUT", f"/admin/tenants/{_p(tenant_id)}", {"corporate_number": corporate_number})
        )

    @feeds.command("import-employees")
    @click.argument("tenant_id")
    @click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @target_options
    def import_employees(tenant_id: str, csv_file: Path, client: AdminClient, as_json: bool) -> None:
        """Bulk import the employee master from a CSV (UTF-8 or CP932)."""
        body = {"csv_base64": base64.b64encode(csv_file.read_bytes()).decode(), "file_name": csv_file.name}
        result = call(client, "POST", f"/admin/tenants/{_p(tenant_id)}/employees/import", body)
        if as_json:
            echo_json(result)
            return
        click.echo(f"imported {result['imported']}")
        for problem in result["problems"]:
            where = f"line {problem.get('line') or '-'} {problem.get('employee_code') or ''}"
            click.echo(f"  ! {where}: {problem['reason']}")

    @feeds.command("errors")
    @click.argument("tenant_id")
    @target_options
    def errors(tenant_id: str, client: AdminClient, as_json: bool) -> None:
        """Error data (admin only): reason, hint and the proposed fix of each unmatched line."""
        found = call(client, "GET", f"/admin/tenants/{_p(tenant_id)}/card-errors")
        if as_json:
            echo_json(found)
            return
        if not found:
            click.echo("(no error data)")
        for error in found:
            fix = error.get("proposed_fix")
            proposal = f"  fix: {fix['employee_code']}.{fix['field']} = {fix['value']}" if fix else ""
            click.echo(
                f"{error['line_id']}  {error['usage_date']} {error['amount']}  {error['reason']}{proposal}"
            )
            click.echo(f"    {error['hint']}")

    @feeds.command("fix")
    @click.argument("tenant_id")
    @click.argument("line_id")
    @target_options
    def fix(tenant_id: str, line_id: str, client: AdminClient, as_json: bool) -> None:
        """Apply the line's proposed master fix and re-match the tenant's error lines."""
        result = call(client, "POST", f"/admin/tenants/{_p(tenant_id)}/card-errors/{_p(line_id)}/apply-fix")
        if as_json:
            echo_json(result)
            return
        applied = result["applied"]
        click.echo(f"{applied['employee_code']}.{applied['field']} = {applied['value']}")
        click.echo(f"now matched: {', '.join(result['rematch']['matched']) or '(none)'}")
        click.echo(f"still unmatched: {len(result['rematch']['still_unmatched'])}")

    @feeds.command("rematch")
    @click.argument("tenant_id")
    @target_options
    def rematch(tenant_id: str, client: AdminClient, as_json: bool) -> None:
        """Re-match the tenant's error lines after master changes."""
        result = call(client, "POST", f"/admin/tenants/{_p(tenant_id)}/rematch")
        if as_json:
            echo_json(result)
            return
        click.echo(f"matched {len(result['matched'])}, still unmatched {len(result['still_unmatched'])}")

    @feeds.command("assign")
    @click.argument("tenant_id")
    @click.argument("line_id")
    @click.argument("employee_code")
    @target_options
    def assign(tenant_id: str, line_id: str, employee_code: str, client: AdminClient, as_json: bool) -> None:
        """Assign an error line to an employee by hand."""
        path = f"/admin/tenants/{_p(tenant_id)}/card-errors/{_p(line_id)}/assign"
        line = call(client, "POST", path, {"employee_code": employee_code})
        echo_json(line) if as_json else _line_table([line])

    @feeds.command("link")
    @click.argument("tenant_id")
    @click.argument("line_id")
    @click.option("--report", "report_id", required=True, help="expense report id")
    @click.option("--employee", "employee_code", required=True, help="the report's employee")
    @target_options
    def link(
        tenant_id: str, line_id: str, report_id: str, employee_code: str, client: AdminClient, as_json: bool
    ) -> None:
        """Link a corporate-settled line to a report submitted without it."""
        path = f"/admin/tenants/{_p(tenant_id)}/card-lines/{_p(line_id)}/link"
        line = call(client, "POST", path, {"report_id": report_id, "employee_code": employee_code})
        echo_json(line) if as_json else _line_table([line])

    @feeds.command("exclude")
    @click.argument("tenant_id")
    @click.argument("employee_code")
    @click.argument("line_id")
    @target_options
    def exclude(tenant_id: str, employee_code: str, line_id: str, client: AdminClient, as_json: bool) -> None:
        """Mark a personal-settled line excluded (対象外) for the employee."""
        path = (
            f"/admin/tenants/{_p(tenant_id)}/employees/{_p(employee_code)}/card-lines/{_p(line_id)}/exclude"
        )
        line = call(client, "POST", path)
        echo_json(line) if as_json else _line_table([line])

    @feeds.command("lines")
    @click.argument("tenant_id")
    @click.argument("employee_code")
    @click.option("--all", "show_all", is_flag=True, help="also used, excluded and refund lines")
    @target_options
    def lines(tenant_id: str, employee_code: str, show_all: bool, client: AdminClient, as_json: bool) -> None:
        """The employee's selectable card lines."""
        selectable = str(not show_all).lower()
        path = (
            f"/admin/tenants/{_p(tenant_id)}/employees/{_p(employee_code)}/card-lines?selectable={selectable}"
        )
        found = call(client, "GET", path)
        echo_json(found) if as_json else _line_table(found)

    @cli.command("diagnose")
    @click.argument("tenant_id")
    @click.argument("employee_code")
    @click.option("--date", "usage_date", type=click.DateTime(["%Y-%m-%d"]), required=True, help="usage date")
    @click.option("--amount", type=int, default=None, help="amount in yen")
    @target_options
    def diagnose(
        tenant_id: str,
        employee_code: str,
        usage_date: Any,
        amount: int | None,
        client: AdminClient,
        as_json: bool,
    ) -> None:
        """Why an employee cannot select the card line they paid on a date."""
        path = f"/admin/tenants/{_p(tenant_id)}/employees/{_p(employee_code)}/diagnosis"
        path += f"?usage_date={usage_date.date()}"
        if amount is not None:
            path += f"&amount={amount}"
        result = call(client, "GET", path)
        if as_json:
            echo_json(result)
            return
        click.echo(f"cause: {result['cause']}")
        click.echo(result["message"])
        for key in ("reason", "hint", "next_sync_date", "report_id", "settlement_note"):
            if result.get(key):
                click.echo(f"{key}: {result[key]}")
        if result.get("proposed_fix"):
            fix = result["proposed_fix"]
            click.echo(f"proposed fix: {fix['employee_code']}.{fix['field']} = {fix['value']}")
        for compared in result.get("compared", []):
            card, master = compared["card_value"], compared["master_value"]
            click.echo(f"  {compared['field']}: card {card!r} / master {master!r}")
        click.echo("facts for the support desk:")
        for key, value in result["facts"].items():
            if value is not None:
                click.echo(f"  {key}: {value}")
