"""Feed sync under DynamoDB throttling: the scheduled run fails (the schedule's retry or the next
business day resumes it), the watermark does not move, and the re-run links every line."""

from __future__ import annotations

from typing import Any

import pytest

from cardops.feeds.store import FeedStore
from cardops.kernel.dynamodb import StoreUnavailable
from cardops.sandbox.lambda_runner import FakeContext
from tests.faults import dynamodb_fault
from tests.integration.feeds.conftest import Feeds


def test_scheduled_sync_throttled_fails_without_moving_the_watermark_and_the_rerun_completes(
    feeds: Feeds,
) -> None:
    from cardops.handlers.feed_sync import handler

    feeds.setup_tenant("t1")
    feeds.deliver("t1", "generic", "generic_2026-05-07.csv")
    event = {"business_date": "2026-05-07"}
    # the scheduled function stores lines in batches: its BatchWriteItem calls are throttled
    with dynamodb_fault("BatchWriteItem", times=3) as fault, pytest.raises(StoreUnavailable):
        handler(event, FakeContext("feed-sync"))
    assert fault.hits
    assert FeedStore().watermark() is None
    summary = handler(event, FakeContext("feed-sync"))
    assert summary["status"] == "completed"
    assert summary["lines_read"] > 0
    assert summary["lines_read"] == summary["matched"] + summary["errors"] + summary["duplicates"]
    assert FeedStore().watermark() is not None


def test_admin_sync_throttled_is_503(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    feeds.deliver("t1", "generic", "generic_2026-05-07.csv")
    with dynamodb_fault("GetItem", times=5):
        status, answer = feeds.api("POST", "/admin/feeds/sync", {"business_date": "2026-05-07"})
    assert status == 503, answer
    assert feeds.sync("2026-05-07")["status"] == "completed"


def test_card_error_listing_throttled_is_503(feeds: Feeds, provisioned: Any) -> None:
    feeds.setup_tenant("t1")
    with dynamodb_fault("Query", code="InternalServerError"):
        status, answer = feeds.api("GET", "/admin/tenants/t1/card-errors")
    assert status == 503 and answer["error"]["code"] == "unavailable"
