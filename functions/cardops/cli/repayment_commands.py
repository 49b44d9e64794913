"""``cardops repayment start|approve|reject|list|show`` (SPEC §4, §8): thin calls to the admin API."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click

from cardops.cli.client import AdminClient, call, echo_json, moves_money, target_options
from cardops.cli.samples import load_sample, set_option
from cardops.cli.tables import tokyo_time

KINDS = {".pdf": "pdf", ".eml": "eml"}


def _summary(data: dict[str, Any]) -> None:
    rows = [
        ("request", data["request_id"]),
        ("status", data["status"]),
        ("store", data["store_id"]),
        ("reservation", data["reservation_id"]),
        ("amount", data["amount"]),
        (
            "original",
            f"{data['original_payment']['provider']}/{data['original_payment']['provider_payment_id']}",
        ),
        ("new payment", _payment(data.get("new_payment"))),
        ("document", f"{data['document_key']} (sha256 {data['document_sha256'][:12]}…)"),
    ]
    eligibility = data.get("eligibility") or {}
    if eligibility.get("reason"):
        methods = ", ".join(eligibility.get("suggested_methods", []))
        rows.append(("eligibility", f"{eligibility['outcome']}: {eligibility['reason']} (offer: {methods})"))
    decision = data.get("decision")
    if decision:
        rows.append(
            (
                "decision",
                f"{decision['decision']} by {decision['decided_by']} at {tokyo_time(decision['decided_at'])}",
            )
        )
    if data.get("error"):
        rows.append(("error", data["error"]))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")
    for rejection in data.get("rejections", []):
        click.echo(f"  rejected: {rejection['reason']} ({rejection['field']}): {rejection['message']}")


def _payment(ref: dict[str, Any] | None) -> str:
    return f"{ref['provider']}/{ref['provider_payment_id']}" if ref else "-"


def register(cli: click.Group) -> None:
    @cli.group()
    def repayment() -> None:
        """Re-payments with the customer's consent (再決済): start, approve, reject, list, show."""

    @repayment.command("start")
    @click.option(
        "--evidence",
        "evidence_file",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="request JSON: request_id, original_payment, evidence (see events/repayment/evidence.json)",
    )
    @click.option(
        "--document",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="the consent: the e-mail thread (.eml) or the signed paper (.pdf)",
    )
    @set_option
    @target_options
    def start(
        evidence_file: Path, document: Path, values: tuple[str, ...], client: AdminClient, as_json: bool
    ) -> None:
        """Upload the consent document and start the re-payment workflow.

        The request's placeholders are filled in first: the sample's ``rq_{{unique}}`` gives every
        start its own request id, and ``--set original=ch_…`` names the auto-refunded payment.
        """
        kind = KINDS.get(document.suffix.lower())
        if kind is None:
            raise click.BadParameter("the document must be a .eml or a .pdf file", param_hint="--document")
        try:
            request = json.loads(load_sample(evidence_file, client, values).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise click.BadParameter(f"not a UTF-8 JSON file: {exc}", param_hint="--evidence") from exc
        evidence = {k: v for k, v in dict(request.get("evidence") or {}).items() if k != "document"}
        body = {
            "request_id": request.get("request_id"),
            "original_payment": request.get("original_payment"),
            "evidence": evidence,
            "document": {"kind": kind, "content_base64": base64.b64encode(document.read_bytes()).decode()},
        }
        data = call(client, "POST", "/admin/repayments", body)
        if as_json:
            echo_json(data)
            return
        click.echo("already started: same execution" if data.get("duplicate") else "started")
        _summary(data)

    def _decide(
        request_id: str, decision: str, reason: str | None, client: AdminClient, as_json: bool
    ) -> None:
        body: dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        data = call(client, "POST", f"/admin/repayments/{request_id}/decision", body)
        if as_json:
            echo_json(data)
        else:
            _summary(data)

    @repayment.command("approve")
    @click.argument("request_id")
    @click.option("--reason", default=None, help="note for the audit trail")
    @target_options
    @moves_money(lambda a: f"Approve re-payment {a['request_id']}: the card is charged and captured")
    def approve(request_id: str, reason: str | None, client: AdminClient, as_json: bool) -> None:
        """Approve: the card is charged once and captured at once."""
        _decide(request_id, "approve", reason, client, as_json)

    @repayment.command("reject")
    @click.argument("request_id")
    @click.option("--reason", default=None, help="why (kept in the audit trail)")
    @target_options
    def reject(request_id: str, reason: str | None, client: AdminClient, as_json: bool) -> None:
        """Reject: nothing is charged."""
        _decide(request_id, "reject", reason, client, as_json)

    @repayment.command("list")
    @click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
    @target_options
    def list_(limit: int, client: AdminClient, as_json: bool) -> None:
        """Re-payment requests, newest first."""
        data = call(client, "GET", f"/admin/repayments?limit={limit}")
        if as_json:
            echo_json(data)
            return
        click.echo(f"{'request':<24} {'status':<30} {'store':<12} {'amount':>9}  created")
        for row in data:
            click.echo(
                f"{row['request_id']:<24} {row['status']:<30} {row['store_id']:<12} {row['amount']:>9}  "
                f"{tokyo_time(row['created_at'])}"
            )

    @repayment.command("show")
    @click.argument("request_id")
    @target_options
    def show(request_id: str, client: AdminClient, as_json: bool) -> None:
        """A request, its audit trail and the workflow's steps."""
        data = call(client, "GET", f"/admin/repayments/{request_id}")
        if as_json:
            echo_json(data)
            return
        _summary(data)
        execution = data.get("execution") or {}
        if execution:
            click.echo(f"workflow: {execution['status']}")
            for n, step in enumerate(execution.get("steps", []), start=1):
                mark = {"completed": "✓", "in_progress": "…", "failed": "✗"}[step["status"]]
                extra = f"  attempts {step['attempts']}" if step["attempts"] > 1 else ""
                errors = f"  errors: {', '.join(step['errors'])}" if step["errors"] else ""
                click.echo(f"  {n:>2}. {mark} {step['description']}{extra}{errors}")
        click.echo("audit trail:")
        for entry in data.get("audit", []):
            reasons = f"  [{', '.join(entry['reasons'])}]" if entry["reasons"] else ""
            at = tokyo_time(entry["at"])
            click.echo(f"  {at}  {entry['step']:<15} {entry['result']:<28} {entry['actor']}{reasons}")
