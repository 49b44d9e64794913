"""Listing deliveries: a run lists its window's date folders, not every file ever delivered."""

from __future__ import annotations

from datetime import datetime

from cardops.feeds.store import FeedFiles
from cardops.kernel.calendar import TOKYO
from tests.helpers import counting_aws_calls
from tests.integration.feeds.conftest import Feeds


def test_a_window_lists_its_date_folders_and_the_flat_files_only(feeds: Feeds) -> None:
    old = [
        f"feeds/t1/generic/{y}/{m:02d}/{d:02d}/s{d}.csv"
        for y, m in ((2025, 11), (2026, 4))
        for d in range(1, 29)
    ]
    flat = ["feeds/t1/generic/legacy-1.csv", "feeds/t1/generic/2026-03.csv"]
    window = [
        "feeds/t1/generic/2026/05/06/late.csv",
        "feeds/t1/generic/2026/05/07/a.csv",
        "feeds/t1/generic/2026/05/07/b.csv",
    ]
    before_margin = ["feeds/t1/generic/2026/05/05/skipped.csv"]
    for key in [*old, *flat, *before_margin, *window]:
        feeds.s3.put_object(Bucket=feeds.bucket, Key=key, Body=b"x")
    files = FeedFiles(feeds.bucket)
    with counting_aws_calls() as calls:
        listed = files.delivered(since=datetime(2026, 5, 7, 6, 0, tzinfo=TOKYO))
    assert sorted(location.file.key for location in listed) == sorted([*flat, *window])
    # the tenant, its company, 2 flat files, 2 year folders, the window's 3 files: not the 57 older ones
    assert calls.keys_listed == 1 + 1 + 2 + 2 + 3
    assert calls["s3:ListObjectsV2"] == 4  # tenants, companies, one company, its 2026 folder from 05/06
    # without a window (a first run) everything is listed
    assert len(files.delivered()) == len(old) + len(flat) + len(before_margin) + len(window)
    assert {
        location.tenant_id for location in files.delivered("t1", since=datetime(2026, 5, 7, tzinfo=TOKYO))
    } == {"t1"}
