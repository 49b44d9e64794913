"""CDK entry point (``cdk.json`` runs ``python -m infra.app``): offline, no lookups, no Docker."""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.stack import CardopsStack


def build_app(stage: str | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(outdir=outdir) if outdir else cdk.App()
    stage = stage or app.node.try_get_context("stage") or os.environ.get("CARDOPS_STAGE", "dev")
    CardopsStack(app, f"cardops-{stage}", stage=stage, description=f"cardops ({stage})")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
