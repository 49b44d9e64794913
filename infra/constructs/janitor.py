"""The payments janitor (SPEC §1): an hourly reconciliation of pending and authorized payments."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.constructs.core import TABLE_READ, TABLE_WRITE, Core


class Janitor(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, core: Core) -> None:
        super().__init__(scope, construct_id)
        self.function = core.function("janitor")
        # reads open payments (gsi2), writes repaired payments (what follows runs on the change
        # feed); re-fetches from the providers with their API keys
        core.table.grant(self.function, *TABLE_READ, *TABLE_WRITE)
        core.grant_api_keys(self.function)
        self.rule = events.Rule(
            self,
            "Hourly",
            description="cardops payments janitor: reconcile payments whose webhooks may be lost",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
