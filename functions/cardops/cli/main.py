"""``cardops``: the admin CLI (SPEC §8) — against the local sandbox or a deployed stage."""

from __future__ import annotations

from pathlib import Path

import click

from cardops.cli import (
    capture_commands,
    case_commands,
    commands,
    employee_commands,
    event_commands,
    feed_commands,
    invoke_commands,
    ledger_commands,
    refund_commands,
    repayment_commands,
    reservation_commands,
    settlement_commands,
)


@click.group()
@click.version_option(package_name="cardops")
def cli() -> None:
    """Card-payment operations: payments, workflows, ledgers, card feeds."""


@cli.command()
@click.option(
    "--port", type=click.IntRange(0, 65535), default=4010, show_default=True, help="API port (0: any)"
)
@click.option(
    "--outputs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".cardops/local-outputs.json"),
    show_default=True,
    help="where to write the stack-like outputs",
)
def local(port: int, outputs: Path) -> None:
    """Start the whole system on 127.0.0.1 with no AWS account; stop with Ctrl-C."""
    from cardops.sandbox.local import serve

    serve(port=port, outputs_path=outputs)


commands.register(cli)
repayment_commands.register(cli)
ledger_commands.register(cli)
ledger_commands.register_reconcile(cli)
capture_commands.register(cli)
feed_commands.register(cli)
employee_commands.register(cli)
invoke_commands.register(cli)
event_commands.register(cli)
refund_commands.register(cli)
reservation_commands.register(cli)
settlement_commands.register(cli)
case_commands.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
