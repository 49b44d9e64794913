"""CDK entry point (``cdk.json`` runs ``python -m infra.app``): offline, no lookups, no Docker.

``-c stage=prod`` synthesizes ``cardops-prod``; a comma-separated list (``-c stage=dev,prod``)
synthesizes one stack per stage in one run (the infra tests check both stages from one CLI synth).
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.dependencies import DropRedundantDependsOn
from infra.stack import CardopsStack


def stages(value: str) -> list[str]:
    """``"dev, prod"`` → ``["dev", "prod"]``; an empty list is a synth error, not a default."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise ValueError(f"stage must name at least one stage, got {value!r}")
    return names


def build_app(stage: str | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(outdir=outdir) if outdir else cdk.App()
    value = stage or app.node.try_get_context("stage") or os.environ.get("CARDOPS_STAGE", "dev")
    for name in stages(str(value)):
        CardopsStack(app, f"cardops-{name}", stage=name, description=f"cardops ({name})")
    cdk.Aspects.of(app).add(DropRedundantDependsOn())
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
