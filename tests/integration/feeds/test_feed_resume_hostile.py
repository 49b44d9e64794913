"""A run that stops for time resumes where it stopped; hostile, duplicate and out-of-order input
is reported and never stops the rest; the scheduled handler syncs the scheduled Tokyo date."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from cardops.feeds.domain.schedule import scheduled_at
from cardops.feeds.wiring import feed_sync
from cardops.kernel.calendar import TOKYO
from cardops.sandbox.lambda_runner import FakeContext
from tests.integration.feeds.conftest import Feeds
from tests.integration.feeds.test_feed_schedule import HEADER

DAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def check_often(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Check the time budget every 20 lines, so small files exercise stopping mid-file."""
    monkeypatch.setattr("cardops.feeds.use_cases.sync.CHECK_EVERY", 20)
    yield


def big_file(lines: int) -> bytes:
    rows = (
        f"B-{n},2026/05/{1 + n % 28:02d},,LK000{1 + n % 7},S000{1 + n % 7},"
        f"ﾔﾏﾀﾞ ﾀﾛｳ,1234,ｼｮｯﾌﾟ{n},{n + 1},,,{n},法人\n"
        for n in range(lines)
    )
    return (HEADER + "".join(rows)).encode("cp932")


def test_stopped_run_resumes_without_losing_or_doubling(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    at = datetime.combine(DAY, time(3), tzinfo=TOKYO)
    feeds.deliver("t1", "generic", "big-1.csv", big_file(130), at=at)
    feeds.deliver("t1", "generic", "big-2.csv", big_file(70).replace(b"B-", b"C-"), at=at)
    checks = {"n": 0}

    def stop_every_third_check() -> bool:
        checks["n"] += 1
        return checks["n"] % 3 == 0

    calls = 0
    summary = None
    while True:
        calls += 1
        summary = feed_sync().run(DAY, scheduled_at(DAY), should_stop=stop_every_third_check)
        if summary.status == "completed":
            break
        assert summary.status == "in_progress" and calls < 20
    assert calls > 2 and summary.resumed
    assert summary.lines_read == 200
    assert summary.matched + summary.errors == 200 and summary.duplicates == 0
    assert summary.files_done == summary.files_total == 2


def test_hostile_and_duplicate_input_is_reported_not_fatal(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    at = datetime.combine(DAY, time(3), tzinfo=TOKYO)
    feeds.deliver("t1", "visa_unknown", "x.csv", b"a,b\n1,2\n", at=at)
    feeds.deliver("t1", "generic", "utf16.csv", codecs.BOM_UTF16_LE + "明細番号".encode("utf-16-le"), at=at)
    feeds.deliver("t1", "generic", "garbage.bin", bytes(range(256)) * 4, at=at)
    feeds.deliver("t1", "generic", "empty.csv", b"", at=at)
    feeds.deliver("t1", "generic", "headers.csv", b"foo,bar\n1,2\n", at=at)
    hostile = (
        HEADER
        + 'H-1,2026/05/01,,LK0001,S0001,ヤマダ タロウ,1234,"=HYPERLINK(""http://x"")",100,,,1,法人\n'
        + "H-2,2026/13/45,,LK0001,S0001,ヤマダ タロウ,1234,店,100,,,2,法人\n"
        + "H-3,2026/05/01,,LK0001,S0001,ヤマダ タロウ,1234,店,1e9,,,3,法人\n"
        + "H-4,2026/05/01,,LK0001,S0001,ヤマダ タロウ,1234,店,100,,,4,現金\n"
        + "H-1,2026/05/01,,LK0001,S0001,ヤマダ タロウ,1234,店,100,,,1,法人\n"
        + "H-5,2026/05/01,,,S0001,ヤマダ タロウ,1234,店,100,,,5,法人\n"
    ).encode()
    feeds.deliver("t1", "generic", "hostile.csv", hostile, at=at)
    feeds.deliver("t1", "generic", "hostile-again.csv", hostile, at=at)
    feeds.s3.put_object(Bucket=feeds.bucket, Key="feeds/stray.csv", Body=b"x")
    summary = feed_sync().run(DAY, scheduled_at(DAY))
    assert summary.status == "completed"
    problems = {(p.file.rsplit("/", 1)[-1], p.line) for p in summary.problems}
    for name in ("x.csv", "utf16.csv", "garbage.bin", "empty.csv", "headers.csv"):
        assert (name, None) in problems, name
    assert {("hostile.csv", 3), ("hostile.csv", 4), ("hostile.csv", 5)} <= problems
    # H-1 twice in one file and the whole file again: stored once
    assert summary.matched == 1
    assert summary.duplicates == 1 + 3  # H-1 repeated, then H-1, H-1 and H-5 of the second copy
    errors = feeds.errors("t1")
    assert [e["reason"] for e in errors] == ["unknown_linkage_code"]  # H-5 without a linkage code
    lines = feeds.ok("GET", "/admin/tenants/t1/employees/E001/card-lines")
    assert lines[0]["merchant"] == '=HYPERLINK("http://x")'  # kept verbatim, never evaluated


def test_out_of_order_refund_still_links(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    feeds.deliver("t1", "generic", "generic_2026-05-08.csv", at=datetime(2026, 5, 7, 20, tzinfo=UTC))
    first = feed_sync().run(date(2026, 5, 8), datetime(2026, 5, 7, 21, tzinfo=UTC))
    assert first.tenants[0].refunds_linked == 0
    feeds.deliver("t1", "generic", "generic_2026-05-07.csv", at=datetime(2026, 5, 7, 22, tzinfo=UTC))
    second = feed_sync().run(date(2026, 5, 11), scheduled_at(date(2026, 5, 11)))
    assert second.tenants[0].refunds_linked >= 1
    lines = feeds.ok("GET", "/admin/tenants/t1/employees/E001/card-lines?selectable=false")
    refund = next(line for line in lines if line["amount"] < 0)
    assert refund["refund"]["purchase_line_id"] == "generic:G-0200"


def test_scheduled_handler_syncs_the_tokyo_date_and_continues(feeds: Feeds, provisioned: Any) -> None:
    from cardops.handlers.feed_sync import handler

    feeds.setup_tenant("t1")
    # 2026-05-05 21:00 UTC is 06:00 on 2026-05-06 (振替休日) in Tokyo
    holiday = handler({"scheduled_time": "2026-05-05T21:00:00Z"}, FakeContext(function_name="x"))
    assert holiday["status"] == "skipped_holiday" and holiday["business_date"] == "2026-05-06"
    feeds.deliver("t1", "generic", "big.csv", big_file(90))

    class ShortContext(FakeContext):
        def get_remaining_time_in_millis(self) -> int:
            return 1_000

    name = provisioned.function_names["feed_sync"]
    answer = handler({"scheduled_time": "2026-05-06T21:00:00Z"}, ShortContext(function_name=name))
    assert answer["status"] == "in_progress" and answer.get("continued") is True
    runs = feeds.ok("GET", "/admin/feeds/runs?business_date=2026-05-07")
    assert runs and runs[-1]["status"] == "completed" and runs[-1]["resumed"]
    assert runs[-1]["lines_read"] == 90


def test_refund_linking_stops_between_tenants_and_resumes_exactly(feeds: Feeds) -> None:
    """Linking refunds after the files is time-boxed too: a stop there resumes with the same counts."""
    at = datetime.combine(DAY, time(3), tzinfo=TOKYO)
    refund = "R-1,2026/05/03,,LK0001,S0001,ﾔﾏﾀﾞ ﾀﾛｳ,1234,ｼｮｯﾌﾟ0,-1,,,9,法人\n".encode("cp932")
    for tenant in ("t1", "t2", "t3"):
        feeds.setup_tenant(tenant)
        feeds.deliver(tenant, "generic", "with-refund.csv", big_file(30) + refund, at=at)
    checks = {"n": 0}

    def stop_every_other_check() -> bool:
        checks["n"] += 1
        return checks["n"] % 2 == 0

    answers = []
    while True:
        summary = feed_sync().run(DAY, scheduled_at(DAY), should_stop=stop_every_other_check)
        answers.append(summary)
        if summary.status == "completed":
            break
        assert summary.status == "in_progress" and len(answers) < 30
    stopped_while_linking = [
        a for a in answers[:-1] if a.files_done == a.files_total and a.refund_tenants_done < 3
    ]
    assert stopped_while_linking, [(a.files_done, a.refund_tenants_done) for a in answers]
    assert summary.refund_tenants_done == summary.refund_tenants_total == 3
    assert summary.lines_read == 93 and summary.duplicates == 0
    assert sorted((t.tenant_id, t.refunds_linked) for t in summary.tenants) == [
        ("t1", 1),
        ("t2", 1),
        ("t3", 1),
    ]
