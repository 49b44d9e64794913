"""Command groups that several command modules add to (``payments``, ``stores``, ``sandbox``)."""

from __future__ import annotations

import click


def subgroup(cli: click.Group, name: str, help_text: str) -> click.Group:
    """The group ``name`` of ``cli``, created on first use, so modules can register in any order."""
    existing = cli.commands.get(name)
    if isinstance(existing, click.Group):
        return existing
    group = click.Group(name, help=help_text)
    cli.add_command(group)
    return group
