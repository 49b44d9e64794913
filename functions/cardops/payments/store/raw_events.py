"""Raw webhooks in DynamoDB (``WEBHOOK#{provider}#{event id}`` / ``#EVENT``, see ``store.payments``).

Apart from the payments' store so that the webhook function, which only stores and dedupes bodies,
imports no payment model (issue 13: its cold start); ``store.payments`` re-exports it.

The body is stored compressed (``body_encoding`` says how, ``raw_event_codec``): the item is
written twice (stored, outcome) and kept for its TTL, each write billed per KB of the whole item
(issue 13 item 4). Every encoding ever written, none included, is still read. Items stored before
the intake stopped marking them carry an ``enqueued_at`` that nothing reads any more: the processing
record shows it as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cardops.kernel import aws
from cardops.kernel.dynamodb import expect_failed_condition
from cardops.kernel.dynamodb import n as _n
from cardops.kernel.dynamodb import s as _s
from cardops.kernel.dynamodb import table_name as _table
from cardops.payments.store import raw_event_codec

#: the ``gsi1`` partition of events parked as permanently failing
PARKED_EVENTS = "EVENTS#PARKED"

_INTERNAL_KEYS = frozenset({"pk", "sk", "body", "body_encoding", "gsi1pk", "gsi1sk"})


def _processing_state(item: dict[str, Any]) -> dict[str, Any]:
    """A stored event's processing record: everything but its keys and body, as plain values."""
    state: dict[str, Any] = {}
    for key, value in item.items():
        if key in _INTERNAL_KEYS:
            continue
        state[key] = int(value["N"]) if "N" in value else value.get("BOOL", value.get("S"))
    return state


def _event_key(provider: str, event_id: str) -> dict[str, Any]:
    return {"pk": _s(f"WEBHOOK#{provider}#{event_id}"), "sk": _s("#EVENT")}


class RawEventStore:
    """Store-once of every verified webhook body: the dedupe on provider + event id (SPEC §1)."""

    def put_if_absent(
        self,
        *,
        provider: str,
        event_id: str,
        body: bytes,
        content_type: str,
        received_at: datetime,
        ttl_days: int,
    ) -> tuple[bool, dict[str, Any]]:
        """Returns (stored now, the stored copy's processing record: empty when stored now).

        A duplicate never overwrites the first copy, and it is one call either way: a duplicate's
        condition failure carries the stored item (``ALL_OLD``), so no read follows the failed put.
        """
        stored, encoding = raw_event_codec.encode(body)
        try:
            aws.dynamodb().put_item(
                TableName=_table(),
                Item={
                    **_event_key(provider, event_id),
                    "body": {"B": stored},
                    "body_encoding": _s(encoding),
                    "content_type": _s(content_type[:128]),
                    "received_at": _s(received_at.isoformat()),
                    "expires_at": _n(int(received_at.timestamp()) + ttl_days * 86400),
                },
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True, {}
        except ClientError as exc:
            expect_failed_condition(exc)
            # no item in the answer would be an answer without ALL_OLD: an empty record reads as
            # not processed yet, so the event is re-sent (processing is idempotent) rather than lost
            existing: Any = exc.response.get("Item") or {}
        return False, _processing_state(existing)

    def record_outcome(self, *, provider: str, event_id: str, outcome: str, at: datetime) -> None:
        """What processing made of the event (shown by ``cardops events show`` and ``invoke --wait``)."""
        self._update_existing(
            provider,
            event_id,
            "SET processed_at = :at, outcome = :outcome REMOVE parked_at, permanent, gsi1pk, gsi1sk",
            {":at": _s(at.isoformat()), ":outcome": _s(outcome[:1000])},
        )

    def record_failure(
        self, *, provider: str, event_id: str, reason: str, at: datetime, parked: bool
    ) -> None:
        """One failed attempt; ``parked`` when it was the last one before the dead-letter queue."""
        expression = (
            "SET attempts = if_not_exists(attempts, :zero) + :one, last_error = :reason, "
            "last_failed_at = :at, first_failed_at = if_not_exists(first_failed_at, :at)"
        )
        if parked:
            expression += ", parked_at = :at"
        self._update_existing(
            provider,
            event_id,
            expression,
            {":zero": _n(0), ":one": _n(1), ":reason": _s(reason[:1000]), ":at": _s(at.isoformat())},
        )

    def park(self, *, provider: str, event_id: str, reason: str, at: datetime) -> bool:
        """Park an event that can never succeed as it is; False when there is no stored event.

        It stays listed (``list_parked``) until it is processed again or redriven.
        """
        expression = (
            "SET attempts = if_not_exists(attempts, :zero) + :one, last_error = :reason, "
            "last_failed_at = :at, first_failed_at = if_not_exists(first_failed_at, :at), "
            "parked_at = :at, permanent = :true, gsi1pk = :parked, gsi1sk = :sort"
        )
        values = {
            ":zero": _n(0),
            ":one": _n(1),
            ":reason": _s(reason[:1000]),
            ":at": _s(at.isoformat()),
            ":true": {"BOOL": True},
            ":parked": _s(PARKED_EVENTS),
            ":sort": _s(f"{at.isoformat()}#{provider}#{event_id}"),
        }
        return self._update_existing(provider, event_id, expression, values)

    def list_parked(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """Events parked as permanently failing, oldest first, as ``processing_state`` records."""
        page = aws.dynamodb().query(
            TableName=_table(),
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": _s(PARKED_EVENTS)},
            Limit=limit,
        )
        parked = []
        for item in page.get("Items", []):
            _, provider, event_id = item["pk"]["S"].split("#", 2)
            parked.append({"provider": provider, "event_id": event_id, **_processing_state(item)})
        return parked

    def record_redrive(self, *, provider: str, event_id: str, at: datetime) -> None:
        self._update_existing(
            provider,
            event_id,
            "SET redriven_at = :at REMOVE parked_at, permanent, gsi1pk, gsi1sk",
            {":at": _s(at.isoformat())},
        )

    def processing_state(self, *, provider: str, event_id: str) -> dict[str, Any] | None:
        """The stored event's processing record (everything but its body), or None when unknown."""
        item = self._get(provider, event_id)
        return None if item is None else _processing_state(item)

    @staticmethod
    def _get(provider: str, event_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = (
            aws.dynamodb()
            .get_item(TableName=_table(), Key=_event_key(provider, event_id), ConsistentRead=True)
            .get("Item")
        )
        return found

    def _update_existing(self, provider: str, event_id: str, expression: str, values: dict[str, Any]) -> bool:
        """Update the stored event only if it exists: a message without one is not given a stub item."""
        try:
            aws.dynamodb().update_item(
                TableName=_table(),
                Key=_event_key(provider, event_id),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def get_body(self, *, provider: str, event_id: str) -> bytes | None:
        item = self._get(provider, event_id)
        if item is None:
            return None
        return raw_event_codec.decode(bytes(item["body"]["B"]), item.get("body_encoding", {}).get("S"))
