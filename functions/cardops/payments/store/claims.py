"""The one-outcome claim of an authorization: captured by the store *or* expired by the workflow.

A capture and the automatic cancel at the deadline can race. Before either calls the provider it
claims the payment's outcome with a conditional put on ``PAYMENT#{provider}#{id}`` / ``#OUTCOME``;
only the holder of the claim calls the provider, so the provider never sees both a capture and a
cancel of the same authorization from us, and the payment ends in exactly one of ``captured`` /
``expired_refunded``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from cardops.kernel import aws
from cardops.kernel.dynamodb import expect_failed_condition, payment_pk
from cardops.kernel.dynamodb import s as _s
from cardops.kernel.dynamodb import table_name as _table

Outcome = Literal["capture", "expire"]
SK = "#OUTCOME"


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    claimed_at: datetime


class OutcomeClaims:
    def claim(self, provider: str, payment_id: str, outcome: Outcome, *, now: datetime) -> Claim:
        """Take the claim for ``outcome``, or return the claim someone else holds.

        Claiming an outcome that is already ours is idempotent (a retried step keeps its claim).
        """
        key = {"pk": _s(payment_pk(provider, payment_id)), "sk": _s(SK)}
        try:
            aws.dynamodb().put_item(
                TableName=_table(),
                Item={**key, "outcome": _s(outcome), "claimed_at": _s(now.isoformat())},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return Claim(outcome=outcome, claimed_at=now)
        except ClientError as exc:
            expect_failed_condition(exc)
        current = self.get(provider, payment_id)
        if current is None:  # released between our put and our read: try once more
            return self.claim(provider, payment_id, outcome, now=now)
        return current

    def get(self, provider: str, payment_id: str) -> Claim | None:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=_table(),
                Key={"pk": _s(payment_pk(provider, payment_id)), "sk": _s(SK)},
                ConsistentRead=True,
            )
            .get("Item")
        )
        if item is None:
            return None
        return Claim.model_validate({"outcome": item["outcome"]["S"], "claimed_at": item["claimed_at"]["S"]})

    def take_over(
        self, provider: str, payment_id: str, stale: Claim, outcome: Outcome, *, now: datetime
    ) -> bool:
        """Replace a stale claim (an abandoned capture) only if it is still exactly that claim."""
        try:
            aws.dynamodb().put_item(
                TableName=_table(),
                Item={
                    "pk": _s(payment_pk(provider, payment_id)),
                    "sk": _s(SK),
                    "outcome": _s(outcome),
                    "claimed_at": _s(now.isoformat()),
                },
                ConditionExpression="outcome = :o AND claimed_at = :t",
                ExpressionAttributeValues={":o": _s(stale.outcome), ":t": _s(stale.claimed_at.isoformat())},
            )
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") == "ConditionalCheckFailedException":
                return False
            raise

    def release(self, provider: str, payment_id: str, outcome: Outcome) -> None:
        """Give the claim back (the provider refused our call, so nothing happened)."""
        try:
            aws.dynamodb().delete_item(
                TableName=_table(),
                Key={"pk": _s(payment_pk(provider, payment_id)), "sk": _s(SK)},
                ConditionExpression="outcome = :o",
                ExpressionAttributeValues={":o": _s(outcome)},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") != "ConditionalCheckFailedException":
                raise
